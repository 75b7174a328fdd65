"""Unbound extension objects; `create_app()` binds them to the app."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.db import Base
from app.errors import ErrorEnvelopeSchema


class IasApi(Api):
    """flask-smorest's Api, documenting docs/contract.md §3.2's error envelope instead of its own."""

    ERROR_SCHEMA = ErrorEnvelopeSchema


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = IasApi()
