"""The documents GraphiQL opens with: a pipeline board and a deal's page, runnable on the demo data.

The variables name the demo's fixed pipeline and stage ("New business", "Negotiation"), never
rows read from the database: the page is served without a key, so it must not show anyone's
data. tests/test_graphiql.py runs both documents against a seeded demo database.
"""

from __future__ import annotations

import json
from typing import Any

BOARD = """\
# A pipeline board: its stages in order, each column's first cards in card order.
# Put your API key in the field above; Ctrl-Enter runs the query.
query Board($pipeline: String!, $cards: Int!) {
  pipelines(filter: { name: { eq: $pipeline } }) {
    nodes {
      name
      currency
      stages {
        name
        probability
        opportunities(first: $cards) {
          totalCount
          nodes {
            id
            title
            amount
            currency
            expectedCloseDate
            customer { name }
            owner { displayName }
          }
        }
      }
    }
  }
}
"""

DEAL_PAGE = """\
# A deal's page: the largest open deal in one stage, with everything around it.
# With a deal's id, `opportunity(id: "…")` fetches the same fields.
query DealPage($pipeline: String!, $stage: String!) {
  opportunities(
    filter: {
      status: { eq: OPEN }
      pipeline: { name: { eq: $pipeline } }
      stage: { name: { eq: $stage } }
    }
    orderBy: [{ field: AMOUNT, direction: DESC, nulls: LAST }]
    first: 1
  ) {
    nodes {
      id
      title
      status
      amount
      currency
      probability
      expectedRevenue
      expectedCloseDate
      pipeline { name }
      stage { name }
      customer { name industry website address { city country } }
      contacts { displayName jobTitle email }
      owner { displayName email }
      items { itemName quantity rate amount }
      customFields { label value }
      tags
      updatedAt
    }
  }
}
"""

# the demo's first pipeline and one of its open stages (app/demo: PIPELINES)
DEMO_PIPELINE = "New business"
DEMO_STAGE = "Negotiation"

BOARD_VARIABLES: dict[str, Any] = {"pipeline": DEMO_PIPELINE, "cards": 20}
DEAL_PAGE_VARIABLES: dict[str, Any] = {"pipeline": DEMO_PIPELINE, "stage": DEMO_STAGE}


def default_tabs() -> list[dict[str, str]]:
    """GraphiQL's `defaultTabs`: used on a first visit, before the browser stored tabs of its own."""
    return [
        {"query": BOARD, "variables": json.dumps(BOARD_VARIABLES, indent=2)},
        {"query": DEAL_PAGE, "variables": json.dumps(DEAL_PAGE_VARIABLES, indent=2)},
    ]
