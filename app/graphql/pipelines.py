"""Pipelines (boards) and their stages (columns)."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from app import models as m
from app.graphql.common import IntFilter, Node, StringFilter, enum_filter
from app.graphql.enums import StageType
from app.graphql.registry import entity
from app.graphql.relations import children, connection, list_root, one_root, rel

# An opportunity's pipeline is its stage's: derived, so it can never disagree.
_PIPELINE_OF_OPPORTUNITY = (
    select(m.Stage.pipeline_id).where(m.Stage.id == m.Opportunity.stage_id).scalar_subquery()
)


@strawberry.type(description="A sales pipeline: a board whose columns are stages.")
class Pipeline(Node):
    name: str = strawberry.field(description="Name of the pipeline.")
    currency: str | None = strawberry.field(description="ISO 4217 code its deals are usually in.")
    stages = children(m.Stage.pipeline_id, "Stage", "Its stages in board order.", order=(m.Stage.position,))
    opportunities = connection(
        _PIPELINE_OF_OPPORTUNITY, "Opportunity", "Deals in any stage of this pipeline."
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
    pipeline = rel(m.Stage.pipeline_id, Pipeline, "The pipeline this stage belongs to.", required=True)
    opportunities = connection(
        m.Opportunity.stage_id,
        "Opportunity",
        "The deals in this column; by default in board position order.",
        default_order=(("POSITION", False),),
    )


PIPELINE = entity(
    Pipeline,
    m.Pipeline,
    filters={"name": (StringFilter, "By name."), "currency": (StringFilter, "By currency code.")},
    filter_doc="Which pipelines to return. Fields are combined with AND.",
    orders=["ID", "NAME", "CREATED_AT"],
    default_order=(("NAME", False),),
)
StageTypeFilter = enum_filter("StageTypeFilter", StageType)
STAGE = entity(
    Stage,
    m.Stage,
    filters={
        "name": (StringFilter, "By name."),
        "position": (IntFilter, "By place in the pipeline."),
        "probability": (IntFilter, "By default probability."),
        "type": (StageTypeFilter, "By stage type."),
        "pipeline": "By the pipeline it belongs to.",
    },
    filter_doc="Which stages to return. Fields are combined with AND.",
    orders=["ID", "NAME", "POSITION", "PROBABILITY"],
    default_order=(("POSITION", False),),
)
PipelineFilter = PIPELINE.filter
StageFilter = STAGE.filter


@strawberry.type
class PipelineQueries:
    pipeline = one_root(Pipeline, "One pipeline by id.")
    pipelines = list_root(Pipeline, "Pipelines, by name.")
    stage = one_root(Stage, "One stage by id.")
    stages = list_root(Stage, "Stages of all pipelines, by position.")
