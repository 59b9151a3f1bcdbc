"""Settings for the tumour-board app: one module, every value from the environment.

Two profiles, picked by TUMOURBOARD_PROFILE:
- ``local`` (default): safe for a laptop or a demo; no secrets needed.
- ``production``: refuses to start without a secret key and allowed hosts, turns on every
  transport-security setting and passes ``manage.py check --deploy --fail-level WARNING``.

Every variable is listed with its default in the README's configuration table.
"""

import datetime as dt
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from cases.pathway.constants import DEFAULT_CONSTANTS, DEFAULT_WORKFLOW

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TUMOURBOARD_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PROFILE = env_str("TUMOURBOARD_PROFILE", "local")
if PROFILE not in {"local", "production"}:
    raise ImproperlyConfigured("TUMOURBOARD_PROFILE must be 'local' or 'production'")
PRODUCTION = PROFILE == "production"

# --- Core ------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in the production profile")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in the production profile")
    # Local only: a fixed key is fine because nothing here is reachable from outside.
    SECRET_KEY = "local-only-insecure-key-not-for-production-use-0123456789"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in the production profile")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Absolute base URL used for links in reminder emails (no request is at hand in a task).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The admin with our own site: only roles that may manage users get in (cases/admin_site.py).
    "cases.apps.TumourBoardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "pgtrigger",
    "pghistory",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "cases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # --- security (docs/architecture.md) ---
    # An htmx request sent to sign-in gets a full-page redirect, not a login form in a fragment.
    "cases.security.middleware.HtmxLoginRedirectMiddleware",
    # Nothing a signed-in user sees is kept by the browser or a proxy.
    "cases.security.middleware.NoStoreMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Idle (30 min) and absolute (12 h) session limits.
    "cases.security.middleware.SessionLifetimeMiddleware",
    # --- end security ---
    # Login is the default: only views marked @login_not_required are public.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # --- security ---
    # Second factor before anything else when OTP_REQUIRED.
    "cases.security.middleware.TwoFactorRequiredMiddleware",
    # Who made each database change: the audit triggers store it with every event.
    "cases.security.middleware.AuditContextMiddleware",
    # --- end security ---
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns an axes lockout into the "locked for 15 minutes" page; axes wants to be last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tumourboard.urls"
WSGI_APPLICATION = "tumourboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "cases.reminders.context_processors.reminders",
            ],
        },
    },
]

# --- Database: PostgreSQL in every mode ------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tumourboard")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60 if PRODUCTION else 0),
        conn_health_checks=True,
        # No view streams a large queryset: what iterates is Django's ModelChoiceField, over a
        # few dozen staff, for which a server-side cursor costs three round trips instead of
        # one. (PgBouncer in transaction mode needs this setting too.)
        disable_server_side_cursors=True,
    )
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (no other database)")

# The reports (cases/followup/reports/) read from a read replica when REPORTING_DATABASE_URL is
# set; in the tests that alias mirrors the default database.
if env_str("REPORTING_DATABASE_URL"):
    DATABASES["reporting"] = dj_database_url.parse(
        env_str("REPORTING_DATABASE_URL"), conn_health_checks=True
    )
    DATABASES["reporting"]["TEST"] = {"MIRROR": "default"}

# Privilege separation (docs/security.md): the app connects as DATABASE_URL's role, which owns
# nothing and may not rewrite the audit trail; `manage.py migrate` (and `flush`) connect as
# DATABASE_MIGRATE_URL's role, which owns the schema. Only that URL's user, password, host, port
# and options are used: it reaches the database DATABASE_URL names (in the tests, their own test
# database). Unset, migrations run as the app's role and there is no separation.
DATABASE_MIGRATE_URL = env_str("DATABASE_MIGRATE_URL")
DATABASE_APP_ROLE = DATABASES["default"]["USER"]
DATABASE_OWNER: dict[str, object] | None = None
if DATABASE_MIGRATE_URL:
    _owner = dj_database_url.parse(DATABASE_MIGRATE_URL)
    if not _owner["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_MIGRATE_URL must point at PostgreSQL")
    DATABASE_OWNER = {key: _owner.get(key, "") for key in ("USER", "PASSWORD", "HOST", "PORT")}
    DATABASE_OWNER["OPTIONS"] = _owner.get("OPTIONS", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "cases.User"

# --- Redis, cache and Celery -----------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "tumourboard",
        # A Redis that does not answer must not hang requests: fail fast, fall back.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
    # Dashboard panels, keyed on the versions of the tables they read (cases/data_version.py).
    # In each process's own memory: the rendered rows name patients, and they stay in the process.
    "local": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "tumourboard-panels",
        "TIMEOUT": 24 * 3600,  # keys change with the data and the day; this only frees memory
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}

# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The database is the schedule (DESIGN.md §5): tasks are short and idempotent, so a message is
# acknowledged only after the task ran, and one lost with its worker goes back to the queue.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Time limits far below the Redis visibility timeout, so no running task is ever re-delivered.
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = env_str("TIME_ZONE", "Europe/London")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# --- Email (Django 6.1 MAILERS) --------------------------------------------------------------

# Locally, mail is written to var/mail/ (and shown in the reminder log); production uses SMTP.
_email_backend = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend",
)
if _email_backend.endswith("smtp.EmailBackend"):
    _email_options: dict[str, object] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", default=False),
        "timeout": env_int("EMAIL_TIMEOUT", 20),
    }
elif _email_backend.endswith("filebased.EmailBackend"):
    _email_options = {"file_path": str(VAR_DIR / "mail")}
else:
    _email_options = {}
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "tumour-board@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Authentication and sessions -------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Idle timeout: a session lives 30 minutes after the last activity recorded in it.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60)
# --- performance (docs/performance.md) ---
# Sessions are read from Redis and written through to PostgreSQL (a Redis wipe only costs a
# database read). They are saved when they change, not on every request: activity is recorded
# at most once a minute (SESSION_ACTIVITY_RESOLUTION_SECONDS, cases/security/middleware.py),
# which saves an UPDATE and its transaction on almost every page while the idle limit still holds.
# PostgreSQL holds sessions; Redis caches them, and an unavailable Redis only costs a query.
SESSION_ENGINE = "cases.security.sessions"
SESSION_SAVE_EVERY_REQUEST = False
SESSION_ACTIVITY_RESOLUTION_SECONDS = 60
# --- end performance ---
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# htmx sends the token from the page (hx-headers), so no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True

# --- Security: sign-in hardening, two factors, session limits-------------------------

# Axes first: it refuses a locked-out username before the password is even checked.
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# Per username, not per address: a hospital puts hundreds of staff behind one NAT address, and a
# per-address lock would shut them all out after five typos between them. axes.W006 warns about
# exactly this choice; it is deliberate (README, "Security").
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# The lock ends 15 minutes after it began, as the page says, however often someone retries.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A page that says what happened and for how long (cases/views/auth.py).
AXES_LOCKOUT_CALLABLE = "cases.security.views.locked_out"

# TOTP second factor after the password. Required in production; the local demo may switch it
# off, and then says so on the sign-in page.
OTP_REQUIRED = env_bool("OTP_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Tumour board")

# Signed-in sessions end 12 hours after sign-in whatever the activity (idle limit above).
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600)

# --- Internationalisation --------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = False
USE_TZ = True
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "d/m/Y"

# --- Static files ----------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Locally, serve straight from the source folders so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Security headers ------------------------------------------------------------------------

# No inline scripts or styles anywhere: everything comes from our own static files.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

if PRODUCTION:
    # https://docs.djangoproject.com/en/6.1/howto/deployment/checklist/
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host- cookies are bound to this exact origin, over HTTPS, with no Domain attribute.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    if env_bool("BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging: to stdout, no patient data (see docs/hazard-log.md) ----------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Database errors quote row values ("Key (hospital_number)=(...)", "Failing row contains
    # (...)"): the filter blanks them out before anything is written.
    "filters": {"redact_phi": {"()": "cases.security.log_redaction.RedactDatabaseValues"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_phi"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # SQL parameters are patient data: never log queries, at any LOG_LEVEL.
        "django.db.backends": {"level": "WARNING"},
        # No error emails (Django's mail_admins handler would send request data): errors go to
        # the console handler above, through the filter.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Its start-up banner on every manage.py command is noise; sign-in events stay at INFO.
        "axes.apps": {"level": "WARNING"},
    },
}

# --- Clinical rule constants (pathway-spec section E; the values in force are in every answer) --

# The defaults are the engine's (cases/pathway/constants.py), the one home of every rule.
PATHWAY_FLR_MIN_PERCENT_SLV = env_int(
    "PATHWAY_FLR_MIN_PERCENT_SLV", int(DEFAULT_CONSTANTS.flr_min_percent_slv)
)
PATHWAY_BEV_MIN_DAYS = env_int("PATHWAY_BEV_MIN_DAYS", DEFAULT_CONSTANTS.bev_min_days)
PATHWAY_REASSESS_MONTHS = env_int("PATHWAY_REASSESS_MONTHS", DEFAULT_CONSTANTS.reassess_months)

# The MDT's workflow around the guideline (cases/pathway/constants.py, WorkflowConstants).
# A molecular result pending more than this many days joins the worklist and is chased by email.
RESULT_CHASE_DAYS = env_int("RESULT_CHASE_DAYS", DEFAULT_WORKFLOW.result_chase_days)
# The minimum dataset needs a scan younger than this on the meeting day.
IMAGING_MAX_AGE_DAYS = env_int("IMAGING_MAX_AGE_DAYS", DEFAULT_WORKFLOW.imaging_max_age_days)
ECOG_MAX_AGE_DAYS = env_int("ECOG_MAX_AGE_DAYS", DEFAULT_WORKFLOW.ecog_max_age_days)
# The agenda freezes this long before a meeting: a later listing needs a reason.
AGENDA_FREEZE_HOURS = env_int("AGENDA_FREEZE_HOURS", DEFAULT_WORKFLOW.agenda_freeze_hours)
# "Due soon" on the dashboard: a reassessment due within this many days.
DUE_SOON_DAYS = env_int("DUE_SOON_DAYS", DEFAULT_WORKFLOW.due_window_days)

# --- After the meeting: letters, follow-up, reports (docs/after-the-meeting.md) -------------

# An outcome letter not sent within this many working days of the sign-off joins the worklist.
LETTER_SEND_WORKING_DAYS = env_int(
    "LETTER_SEND_WORKING_DAYS", DEFAULT_WORKFLOW.letter_send_working_days
)
# Not working days (weekends are skipped anyway): ISO dates, comma-separated. The default is
# England and Wales, 2026 and 2027 (https://www.gov.uk/bank-holidays).
BANK_HOLIDAYS = [
    dt.date.fromisoformat(day)
    for day in env_list(
        "BANK_HOLIDAYS",
        "2026-01-01,2026-04-03,2026-04-06,2026-05-04,2026-05-25,2026-08-31,2026-12-25,"
        "2026-12-28,2027-01-01,2027-03-26,2027-03-29,2027-05-03,2027-05-31,2027-08-30,"
        "2027-12-27,2027-12-28",
    )
]
# "Recommendations not implemented after N days", N per kind of recommendation.
FOLLOWUP_DAYS = {
    kind: env_int(
        f"FOLLOWUP_{kind.upper()}_DAYS", getattr(DEFAULT_WORKFLOW, f"followup_{kind}_days")
    )
    for kind in ("treatment", "referral", "surgery", "scan", "biopsy", "radiotherapy")
}
# The trust's letterhead on outcome letters: lines separated by "|".
LETTERHEAD = [
    line.strip()
    for line in env_str(
        "LETTERHEAD",
        "Colorectal Multidisciplinary Team|Example NHS Foundation Trust|"
        "Hospital Road, Exampletown EX1 1AA|Telephone 01234 567890",
    ).split("|")
    if line.strip()
]
# The reports' targets: cases over them are counted "outside the target".
REPORT_REFERRAL_TO_DISCUSSION_DAYS = env_int(
    "REPORT_REFERRAL_TO_DISCUSSION_DAYS", DEFAULT_WORKFLOW.referral_to_discussion_days
)
REPORT_DISCUSSION_TO_TREATMENT_DAYS = env_int(
    "REPORT_DISCUSSION_TO_TREATMENT_DAYS", DEFAULT_WORKFLOW.discussion_to_treatment_days
)
# Reports read from a read replica when this is set (a "reporting" database alias).
REPORTING_DATABASE_URL = env_str("REPORTING_DATABASE_URL")

# --- Reminders (DESIGN.md §5: PostgreSQL is the schedule, Celery only dispatches) ------------

# When reminders fall due (see cases/reminders/planning.py and docs/configuration.md).
REMINDER_REIMAGING_LEAD_DAYS = env_int("REMINDER_REIMAGING_LEAD_DAYS", 14)
# Before the SCRT-to-surgery window closes: the bevacizumab gap plus a week to book theatre, so a
# patient still on bevacizumab can be operated on inside the window.
REMINDER_SCRT_WARNING_DAYS = env_int("REMINDER_SCRT_WARNING_DAYS", PATHWAY_BEV_MIN_DAYS + 7)
REMINDER_ACTION_OVERDUE_DAYS = env_int("REMINDER_ACTION_OVERDUE_DAYS", 1)
REMINDER_SEND_HOUR = env_int("REMINDER_SEND_HOUR", 8)  # local time (TIME_ZONE) on the due date
if not 0 <= REMINDER_SEND_HOUR <= 23:
    raise ImproperlyConfigured("REMINDER_SEND_HOUR must be an hour from 0 to 23")
# Expiry (docs/reminders.md): the days after its clinical date on which a reminder may still go
# out; after that it is EXPIRED unsent (the worklists still show the fact). Bevacizumab and SCRT
# reminders expire the day after the interval ends, the surgery date passes or the window closes.
REMINDER_REIMAGING_GRACE_DAYS = env_int(
    "REMINDER_REIMAGING_GRACE_DAYS", DEFAULT_WORKFLOW.reimaging_reminder_grace_days
)
REMINDER_REASSESSMENT_GRACE_DAYS = env_int(
    "REMINDER_REASSESSMENT_GRACE_DAYS", DEFAULT_WORKFLOW.reassessment_reminder_grace_days
)
REMINDER_RESULT_CHASE_GRACE_DAYS = env_int(
    "REMINDER_RESULT_CHASE_GRACE_DAYS", DEFAULT_WORKFLOW.result_chase_grace_days
)
REMINDER_ACTION_GRACE_DAYS = env_int(
    "REMINDER_ACTION_GRACE_DAYS", DEFAULT_WORKFLOW.action_reminder_grace_days
)
# One email a day per recipient list with everything non-urgent; urgent alerts (a bevacizumab
# interval breach, an SCRT window closing within REMINDER_URGENT_WINDOW_DAYS) still go at once.
REMINDER_DIGEST = env_bool("REMINDER_DIGEST", default=True)
REMINDER_URGENT_WINDOW_DAYS = env_int(
    "REMINDER_URGENT_WINDOW_DAYS", DEFAULT_WORKFLOW.urgent_window_days
)
# Sent when a case has neither a responsible clinician nor a coordinator with an email address.
REMINDER_FALLBACK_EMAIL = env_str("REMINDER_FALLBACK_EMAIL")

# How they are sent.
REMINDER_DISPATCH_BATCH_SIZE = env_int("REMINDER_DISPATCH_BATCH_SIZE", 1000)
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 8)
REMINDER_RETRY_BACKOFF_SECONDS = env_int("REMINDER_RETRY_BACKOFF_SECONDS", 60)
REMINDER_RETRY_BACKOFF_MAX_SECONDS = env_int("REMINDER_RETRY_BACKOFF_MAX_SECONDS", 3600)
# A send task is killed after REMINDER_SEND_TIME_LIMIT seconds, so a claim older than the lease
# belongs to a worker that died: the dispatcher may hand it to another. Hence lease > limit.
REMINDER_SEND_TIME_LIMIT = env_int("REMINDER_SEND_TIME_LIMIT", 60)
REMINDER_LEASE_SECONDS = env_int("REMINDER_LEASE_SECONDS", 300)
# A claim whose send task has not even started after this long lost its task message (a Redis
# flush or outage): the dispatcher takes it back without waiting for the whole lease.
REMINDER_PICKUP_SECONDS = env_int("REMINDER_PICKUP_SECONDS", 120)
_visibility_timeout = CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
if not REMINDER_SEND_TIME_LIMIT < REMINDER_LEASE_SECONDS < _visibility_timeout:
    raise ImproperlyConfigured(
        "REMINDER_LEASE_SECONDS must be longer than REMINDER_SEND_TIME_LIMIT and shorter than "
        "the Redis visibility timeout"
    )
# After the SMTP server accepts a message, marking the row SENT is retried this many times, with
# back-off doubling from REMINDER_MARK_SENT_BACKOFF_MS (0.5+1+2+4+8 s by default); the retries
# stop early rather than run past half the send time limit. The acceptance is also noted in
# Redis under the Message-ID for REMINDER_ACCEPTED_NOTE_SECONDS, so a mark that never got
# written is found by the next attempt instead of the email going out twice (docs/reminders.md).
REMINDER_MARK_SENT_RETRIES = env_int("REMINDER_MARK_SENT_RETRIES", 5)
REMINDER_MARK_SENT_BACKOFF_MS = env_int("REMINDER_MARK_SENT_BACKOFF_MS", 500)
REMINDER_ACCEPTED_NOTE_SECONDS = env_int("REMINDER_ACCEPTED_NOTE_SECONDS", 7 * 24 * 3600)
# /healthz answers 503, and staff pages show a banner, when dispatch has not run for this long.
REMINDER_HEARTBEAT_STALE_SECONDS = env_int("REMINDER_HEARTBEAT_STALE_SECONDS", 180)
# Right-hand side of each reminder's Message-ID (defaults to the host name of SITE_URL).
REMINDER_MESSAGE_ID_DOMAIN = env_str(
    "REMINDER_MESSAGE_ID_DOMAIN", SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
)

# One beat entry: the dispatcher every minute. A dispatch message that waited longer than a
# minute (worker down) expires instead of piling up; the next one does the same work.
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html
REMINDER_DISPATCH_INTERVAL_SECONDS = env_int("REMINDER_DISPATCH_INTERVAL_SECONDS", 60)
CELERY_BEAT_SCHEDULE["reminders-dispatch-due"] = {
    "task": "cases.reminders_dispatch_due",
    "schedule": float(REMINDER_DISPATCH_INTERVAL_SECONDS),
    "options": {"expires": max(1, REMINDER_DISPATCH_INTERVAL_SECONDS - 5)},
}
# The head of each audit hash chain goes to the log once a day (cases/audit/tasks.py), so a
# rewritten chain no longer matches what was logged before (docs/security.md).
CELERY_BEAT_SCHEDULE["audit-log-chain-heads"] = {
    "task": "cases.audit_log_chain_heads",
    "schedule": crontab(hour=1, minute=30),
}
# --- MDT meetings: quorum---------------------------------------------------------------

# The disciplines that must all be present for a meeting to be quorate (Discipline values).
MDT_CORE_DISCIPLINES = env_list(
    "MDT_CORE_DISCIPLINES", "hpb_surgeon,medical_oncologist,radiologist,clinical_oncologist"
)

# --- Interoperability: FHIR R4 with mCODE (docs/interop.md) ---------------------------------

# The identifier system of the hospital number in exported and imported Patients (type MR).
HOSPITAL_NUMBER_SYSTEM = env_str(
    "HOSPITAL_NUMBER_SYSTEM", "https://tumourboard.invalid/fhir/Id/hospital-number"
)
# Requests per API token on /fhir/ (count/period, period one of s, m, h, d); beyond it 429.
FHIR_RATE_LIMIT = env_str("FHIR_RATE_LIMIT", "120/m")
# Requests per signed-in user on POST /api/advise/ (django-ratelimit's "count/period", period
# s, m, h or d), counted in the shared Redis cache; beyond it 429 with Retry-After.
# https://django-ratelimit.readthedocs.io/en/stable/rates.html
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "60/m")
# The largest bundle POST /fhir/Bundle and manage.py fhir_import accept.
FHIR_MAX_BUNDLE_BYTES = env_int("FHIR_MAX_BUNDLE_BYTES", 10 * 1024 * 1024)

# --- Imaging (docs/record.md) ----------------------------------------------------------------

# The PACS viewer's link for a scan, with {accession} where its accession number goes; empty: no
# link. No image is ever stored in the app.
PACS_VIEWER_URL = env_str("PACS_VIEWER_URL")

# --- Benchmarks (bench/harness.py) -----------------------------------------------------------

# Serves /bench/ok/, a trivial page the harness times as its baseline. Never in production.
BENCHMARK_VIEWS = env_bool("BENCHMARK_VIEWS", default=False) and not PRODUCTION

# PostgreSQL's JIT compiler spends seconds compiling the worklist queries that then run in
# milliseconds (measured with bench/dashboard_bench.py): an interactive app is better off
# without it. DATABASE_JIT=true turns it back on.
if not env_bool("DATABASE_JIT", default=False):
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["options"] = f"{_db_options.get('options', '')} -c jit=off".strip()
