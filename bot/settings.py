"""Settings from the environment (HJULET_*), with a working embedded default for everything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.secret_files import SecretFileError, read_secret_files
from flows.loader import FLOWS_DIR
from storage.retention import DEFAULTS as RETENTION

ROOT = Path(__file__).resolve().parent.parent
# Swedish first, then English, then the languages families in Swedish municipalities most often speak.
SUPPORTED_LANGUAGES = ("sv", "en", "ar", "so", "fa", "prs", "ti", "uk", "pl", "bs", "ckb", "kmr", "fi", "tr")


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HJULET_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and key live.")
    database_url: str = Field(default="", repr=False, description="SQLAlchemy URL; default: SQLite file.")
    secret_key_file: Path | None = Field(default=None, description="Pseudonym key; default: data_dir.")
    encryption_key_file: Path | None = Field(default=None, description="AES-GCM keyring; default: data_dir.")
    encryption_keys: str = Field(default="", repr=False, description="The keyring itself, '<id> <key>;...'.")
    telegram_token: str = Field(default="", repr=False)
    telegram_api_base: str = ""
    telegram_webhook_secret: str = Field(default="", repr=False)
    telegram_bot_username: str = ""
    outbox_lease_seconds: float = Field(default=20.0, gt=0, le=600)
    telegram_send_rate: float = Field(
        default=25.0, gt=0, le=10_000, description="Bot API calls per second (Telegram allows about 30)."
    )
    # The desk
    public_url: str = "http://127.0.0.1:8080"
    municipality_code: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    smtp_from: str = "hjulet@localhost"
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Retention: what is kept how long, and why, is the table in storage/retention.py
    retention_conversation_months: int = Field(default=RETENTION.conversation_months, ge=1, le=120)
    retention_concern_months: int = Field(default=RETENTION.concern_months, ge=1, le=240)
    retention_kept_concern_months: int = Field(default=RETENTION.kept_concern_months, ge=12, le=1200)
    retention_audit_months: int = Field(default=RETENTION.audit_months, ge=12, le=1200)
    retention_outbox_days: int = Field(default=RETENTION.outbox_days, ge=1, le=365)
    retention_event_days: int = Field(default=RETENTION.event_days, ge=2, le=365)
    retention_interval_hours: float = Field(default=24.0, gt=0, le=24 * 7, description="How often it runs.")
    professional_child_identity: bool = Field(
        default=False, description="Professionals' reports ask for the child's full name and birth date."
    )
    nlu_threads: int = Field(default=1, ge=0, le=64, description="Threads for the NLU model; 0: every core.")
    default_language: str = "sv"
    languages: str = ",".join(SUPPORTED_LANGUAGES)
    flows_dir: Path = FLOWS_DIR
    locales_dir: Path = ROOT / "locales"
    municipality: str = ""
    phone_emergency: str = "112"
    phone_bris: str = "116 111"
    phone_1177: str = "1177"
    phone_social: str = ""
    phone_socialjour: str = ""
    log_level: str = "WARNING"
    log_format: str = Field(default="auto", pattern="^(auto|json|text)$", description="auto: json if no tty")
    access_log: bool = Field(default=False, description="Log each request: method, path (no query), status.")

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        """Secrets from HJULET_<NAME>_FILE (bot/secret_files.py)."""
        try:
            return read_secret_files(data, os.environ) if isinstance(data, dict) else data
        except SecretFileError as exc:
            raise ConfigError(str(exc)) from None

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: str) -> str:
        codes = [c.strip() for c in value.split(",") if c.strip()]
        unknown = [c for c in codes if c not in SUPPORTED_LANGUAGES]
        if not codes or unknown:
            raise ValueError(
                f"unknown language {unknown[0] if unknown else '(none)'}; "
                f"choose from {', '.join(SUPPORTED_LANGUAGES)}"
            )
        return ",".join(codes)

    @field_validator("default_language")
    @classmethod
    def _default_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unknown language {value!r}; choose from {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @property
    def language_list(self) -> tuple[str, ...]:
        return tuple(self.languages.split(","))

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'hjulet.sqlite3'}"

    @property
    def key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def keyring_file(self) -> Path:
        return self.encryption_key_file or self.data_dir / "encryption.keys"

    def context(self) -> dict[str, str]:
        """Values every message may use: phone numbers and the municipality."""
        return {
            "phone_emergency": self.phone_emergency,
            "phone_bris": self.phone_bris,
            "phone_1177": self.phone_1177,
            "phone_social": self.phone_social,
            "phone_socialjour": self.phone_socialjour,
            "municipality": self.municipality,
        }


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "HJULET_" + str(first["loc"][0]).upper() if first["loc"] else "HJULET_*"
        raise ConfigError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from exc
