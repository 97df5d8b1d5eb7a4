"""A first end-to-end read through the real app."""

from tests.support import Api, Tenant, gid, insert, make_board, opportunity


async def test_opportunity_with_relations(api: Api, tenant: Tenant, engine) -> None:
    board = await make_board(engine, tenant.organization_id)
    [opp] = await insert(
        engine, opportunity(tenant.organization_id, stage_id=board.stages[0], customer_id=board.customer)
    )
    data = await api(
        "query($id: ID!) { opportunity(id: $id) { title stage { name pipeline { id } } customer { name } } }",
        {"id": gid("Opportunity", opp)},
    )
    assert data["opportunity"]["stage"]["name"] == "Qualify"
    assert data["opportunity"]["stage"]["pipeline"]["id"] == gid("Pipeline", board.pipeline)
