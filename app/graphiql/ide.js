// The gateway's GraphiQL page: the API key field, and GraphiQL mounted once there is a key.
//
// The key lives in this browser's localStorage. Every request GraphiQL makes, the schema
// introspection included, carries `Authorization: Bearer <key>`; with no key GraphiQL is not
// mounted at all, so nothing is fetched and no UNAUTHENTICATED error greets a first visit.
// Changing the key mounts GraphiQL afresh, which fetches the schema again with the new key
// (the editors keep their tabs: GraphiQL stores them itself).
(function () {
  "use strict";

  var STORE = "opportunity-gateway:api-key";
  var SOURCE = "opportunity-gateway:api-key-source"; // "user", or "demo" when pre-filled
  var config = JSON.parse(document.getElementById("og-graphiql-config").textContent);
  var form = document.getElementById("og-key-form");
  var input = document.getElementById("og-key");
  var status = document.getElementById("og-key-status");
  var forget = document.getElementById("og-key-forget");
  var container = document.getElementById("graphiql");
  var e = React.createElement;
  var root = ReactDOM.createRoot(container);
  var generation = 0;

  function storage(action, name, value) {
    try {
      if (action === "get") return window.localStorage.getItem(name);
      if (action === "set") window.localStorage.setItem(name, value);
      if (action === "remove") window.localStorage.removeItem(name);
    } catch (err) {
      // storage switched off (private mode, policy): the key lasts as long as the page
    }
    return null;
  }

  // A key the user typed wins; otherwise the demo key of `serve --demo` on this machine.
  function initialKey() {
    var stored = storage("get", STORE);
    if (stored && storage("get", SOURCE) === "user") return stored;
    if (config.demoKey) {
      storage("set", STORE, config.demoKey);
      storage("set", SOURCE, "demo");
      return config.demoKey;
    }
    return stored || "";
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = kind || "";
  }

  // fetch, watching for a refused key so the field can say so (GraphiQL shows the error too)
  function watchedFetch(input, init) {
    return window.fetch(input, init).then(function (response) {
      if (response.status === 401) {
        say("This key was refused (UNAUTHENTICATED): paste a valid one.", "og-bad");
      } else if (response.ok) {
        say("Key stored in this browser.", "og-ok");
      }
      return response;
    });
  }

  function fetcherFor(key) {
    var headers = { Authorization: "Bearer " + key };
    var options = { url: config.endpoint, headers: headers, fetch: watchedFetch };
    if (config.subscriptionEndpoint && window.graphqlWs) {
      // graphql-transport-ws, once the server speaks it: the key goes in connection_init
      options.wsClient = window.graphqlWs.createClient({
        url: new URL(config.subscriptionEndpoint, window.location.href).href.replace(/^http/, "ws"),
        connectionParams: headers,
      });
    }
    return GraphiQL.createFetcher(options);
  }

  function prompt() {
    return e(
      "div",
      { className: "og-prompt" },
      e("h1", null, "An API key is needed"),
      e(
        "p",
        null,
        "Paste an API key in the field above. GraphiQL then loads the schema and runs queries " +
          "with it; the key stays in this browser only."
      ),
      e(
        "p",
        null,
        "To make one: ",
        e("code", null, "opportunity-gateway create-api-key --organization NAME --user EMAIL --role viewer"),
        ". ",
        e("code", null, "opportunity-gateway serve --demo"),
        " prints a demo key and fills it in here when you open the page on the same machine."
      )
    );
  }

  // GraphiQL 4 opens the first of `defaultTabs` with its query but takes the variables editor's
  // first content from its own storage only: on a first visit, put the tab's variables there.
  function seedFirstVisit() {
    if (storage("get", "graphiql:tabState") === null && storage("get", "graphiql:variables") === null) {
      storage("set", "graphiql:variables", config.defaultTabs[0].variables);
    }
  }

  function show(key) {
    generation += 1;
    input.value = key;
    forget.disabled = !key;
    if (!key) {
      say("No key yet.", "og-bad");
      root.render(prompt());
      input.focus();
      return;
    }
    seedFirstVisit();
    say(config.demoKey === key ? "Demo key (from serve --demo)." : "Key stored in this browser.", "og-ok");
    root.render(
      e(GraphiQL, {
        key: "key-" + generation, // a new key: a new GraphiQL, a new schema fetch
        fetcher: fetcherFor(key),
        defaultTabs: config.defaultTabs,
        defaultQuery: "# Write a query here; Ctrl-Enter runs it.\n{\n  viewer { displayName email }\n}\n",
        defaultEditorToolsVisibility: "variables",
        shouldPersistHeaders: false,
      })
    );
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var key = input.value.trim();
    if (key) {
      storage("set", STORE, key);
      storage("set", SOURCE, key === config.demoKey ? "demo" : "user");
    } else {
      storage("remove", STORE);
      storage("remove", SOURCE);
    }
    show(key);
  });

  forget.addEventListener("click", function () {
    storage("remove", STORE);
    storage("remove", SOURCE);
    config.demoKey = null; // forgetting means forgetting, the demo key included, until reload
    show("");
  });

  show(initialKey());
})();
