"""Pipelines (boards) and their stages (columns)."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from app import models as m
from app import query
from app.graphql.common import IntFilter, Node, StringFilter, enum_filter
from app.graphql.enums import StageType
from app.graphql.lists import order_input
from app.graphql.relations import connection_field, entity, filter_input, to_many, to_one
from app.query import Hop, Relation

OPP = ("app.graphql.opportunities", "Opportunity")


def _pipeline_of_opportunity() -> object:
    # An opportunity's pipeline is its stage's: derived, so it can never disagree.
    return select(m.Stage.pipeline_id).where(m.Stage.id == m.Opportunity.stage_id).scalar_subquery()


@strawberry.type(description="A sales pipeline: a board whose columns are stages.")
class Pipeline(Node):
    name: str = strawberry.field(description="Name of the pipeline.")
    currency: str | None = strawberry.field(description="ISO 4217 code its deals are usually in.")
    stages = to_many(
        ("app.graphql.pipelines", "Stage"),
        lambda: m.Stage.pipeline_id,
        lambda: (m.Stage.position,),
        "Its stages in board order.",
    )
    opportunities = connection_field(
        OPP, "Deals in any stage of this pipeline.", partition=_pipeline_of_opportunity
    )


@strawberry.type(
    description="A step of a pipeline (a board column); its type says whether deals in it are won or lost."
)
class Stage(Node):
    name: str = strawberry.field(description="Name of the stage.")
    description: str | None = strawberry.field(description="What this stage means.")
    color: str | None = strawberry.field(description="Display color, e.g. #3366ff.")
    position: int = strawberry.field(description="Place in the pipeline, 1 first.")
    probability: int = strawberry.field(description="Default win probability (0–100) of its deals.")
    type: StageType = strawberry.field(description="OPEN, or WON/LOST for closing stages.")
    pipeline_id: strawberry.Private[int]
    pipeline = to_one(Pipeline, "pipeline_id", "The pipeline this stage belongs to.", required=True)
    opportunities = connection_field(
        OPP,
        "The deals in this column; by default in board position order.",
        partition=lambda: m.Opportunity.stage_id,
        default_order=(("POSITION", False),),
    )


PIPELINE_SPEC = query.FilterSpec(m.Pipeline, default_order=(("NAME", False),))
PipelineFilter = filter_input(
    "PipelineFilter",
    __name__,
    PIPELINE_SPEC,
    {"name": (StringFilter, "By name."), "currency": (StringFilter, "By currency code.")},
    "Which pipelines to return. Fields are combined with AND.",
)
PipelineOrder = order_input("Pipeline", ["ID", "NAME", "CREATED_AT"], __name__)

STAGE_SPEC = query.FilterSpec(
    m.Stage,
    relations={"pipeline": lambda: Relation((Hop(m.Stage.pipeline_id, m.Pipeline.id),))},
    default_order=(("POSITION", False),),
)


StageTypeFilter = enum_filter("StageTypeFilter", StageType)


StageFilter = filter_input(
    "StageFilter",
    __name__,
    STAGE_SPEC,
    {
        "name": (StringFilter, "By name."),
        "position": (IntFilter, "By place in the pipeline."),
        "probability": (IntFilter, "By default probability."),
        "type": (StageTypeFilter, "By stage type."),
        "pipeline": (PipelineFilter, "By the pipeline it belongs to."),
    },
    "Which stages to return. Fields are combined with AND.",
)
StageOrder = order_input("Stage", ["ID", "NAME", "POSITION", "PROBABILITY"], __name__)
entity(Pipeline, m.Pipeline, PIPELINE_SPEC)
entity(Stage, m.Stage, STAGE_SPEC)
