from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit.models import Audited
from app.db import intpk, timestamp
from app.extensions import db


class Photo(Audited, db.Model):  # type: ignore[name-defined]
    """A photo of an observation, a control operation or a survey plot: the private original and two
    metadata-free derivatives.

    The same bytes uploaded twice to one observation are one photo (unique SHA-256 per observation).
    """

    __tablename__ = "photos"
    __table_args__ = (
        sa.UniqueConstraint("observation_id", "sha256"),
        sa.UniqueConstraint("control_operation_id", "stage", "sha256"),
        sa.UniqueConstraint("plot_id", "sha256"),
        # Exactly one parent (migration 0014 added plots).
        sa.CheckConstraint(
            "(CASE WHEN observation_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN control_operation_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN plot_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_parent",
        ),
    )

    id: Mapped[intpk]
    # A photo belongs to an observation, or to a control operation (before or after treatment).
    observation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("observations.id"), index=True)
    control_operation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("control_operations.id"), index=True
    )
    # Or to a survey plot (样地, docs/surveys.md).
    plot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("survey_plots.id"), index=True)
    stage: Mapped[str | None] = mapped_column(sa.String(10))  # before | after (control operations)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    mime_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    # Storage keys (app.storage): the original as uploaded, and the display/thumbnail JPEGs.
    original_key: Mapped[str] = mapped_column(sa.String(200))
    display_key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    # From the original's EXIF, when the phone kept it.
    taken_at: Mapped[datetime | None]
    gps_latitude: Mapped[float | None]
    gps_longitude: Mapped[float | None]
    gps_altitude_m: Mapped[float | None]
    # Distance from the observation's position when the photo has GPS (metres).
    gps_distance_m: Mapped[float | None]
    original_filename: Mapped[str | None] = mapped_column(sa.String(255))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[timestamp]

    # Observations, control operations and plots sit above photos (docs/architecture.md): named, not imported.
    observation = relationship("Observation", back_populates="photos")
    control_operation = relationship("ControlOperation", viewonly=True)
    plot = relationship("Plot", viewonly=True)

    @property
    def parent(self) -> Any:
        """The observation, survey plot or control operation the photo belongs to."""
        if self.observation_id is not None:
            return self.observation
        if self.plot_id is not None:
            return self.plot
        return self.control_operation
