"""A minimal CDCS (core-main-app 2.23) for the export tests: SQLite, no MongoDB/Redis/worker.

Runs from the cached virtual environment the tests build; the database and media live
in ``NXTEST_CDCS_STATE`` (a directory the fixture owns).
"""

import os
from pathlib import Path

STATE = Path(os.environ.get("NXTEST_CDCS_STATE", Path(__file__).parent / "state"))

SECRET_KEY = "nexuslims-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "tz_detect",
    "menu",
    "core_main_app",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": str(STATE / "cdcs.sqlite3"),
                         "OPTIONS": {"timeout": 30}}}
MEDIA_ROOT = str(STATE / "media")
STATIC_URL = "/static/"

# Fast hashing: tests may use basic auth on every request.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticated",),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# What core-main-app needs to run without MongoDB, Redis or a Celery worker.
CELERYBEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
MONGODB_INDEXING = False
MONGODB_ASYNC_SAVE = False
GRIDFS_STORAGE = False
CAN_ANONYMOUS_ACCESS_PUBLIC_DOCUMENT = True
ENABLE_SAML2_SSO_AUTH = False
BOOTSTRAP_VERSION = "5.1.3"
BACKWARD_COMPATIBILITY_DATA_XML_CONTENT = True
SERVER_URI = os.environ.get("NXTEST_CDCS_URI", "http://127.0.0.1:8000")

LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["console"], "level": "WARNING"}}
