"""Django settings of the NEMO server the reservation tests run on 127.0.0.1.

Read by NEMO's own virtual environment, never by nexuslims. Each server process gets
its own SQLite file and timezone through the environment (NEMO_TEST_DB, NEMO_TEST_TZ).
Token authentication is switched on: NEMO users have no password, so a superuser's
token is the only way in over REST.
"""

import os

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = "nexuslims-tests-only"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
AUTH_USER_MODEL = "NEMO.User"
ROOT_URLCONF = "NEMO.urls"
WSGI_APPLICATION = "NEMO.wsgi.application"
LOGIN_URL = "login"

USE_TZ = True
TIME_ZONE = os.environ.get("NEMO_TEST_TZ", "America/New_York")
LANGUAGE_CODE = "en-us"
USE_I18N = False
DATETIME_FORMAT = "l, F jS, Y @ g:i A"
DATE_FORMAT = "m/d/Y"
TIME_FORMAT = "g:i A"
DATETIME_INPUT_FORMATS = ["%m/%d/%Y %I:%M %p"]
DATE_INPUT_FORMATS = ["%m/%d/%Y"]
TIME_INPUT_FORMATS = ["%I:%M %p"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    "NEMO",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "mptt",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "NEMO.context_processors.base_context",
        "django.contrib.auth.context_processors.auth",
        "django.template.context_processors.request",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework.authentication.TokenAuthentication",
    ),
    "DEFAULT_PERMISSION_CLASSES": ("NEMO.permissions.DjangoModelPermissions",),
    "DEFAULT_FILTER_BACKENDS": ("django_filters.rest_framework.DjangoFilterBackend",),
    # As NEMO ships it: a bare JSON array unless the client asks for page_size.
    "DEFAULT_PAGINATION_CLASS": "NEMO.rest_pagination.NEMOPageNumberPagination",
}

DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("NEMO_TEST_DB", "nemo.sqlite3"),
}}

# Tables straight from the models (migrate --run-syncdb): ~10 s instead of ~65 s
# for NEMO's hundred migrations on SQLite.
if os.environ.get("NEMO_TEST_SYNCDB"):
    MIGRATION_MODULES = {app.rsplit(".", 1)[-1]: None for app in INSTALLED_APPS}

STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("NEMO_TEST_MEDIA", "/tmp")
MEDIA_URL = "/media/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SERVER_EMAIL = "nemo@127.0.0.1"
ADMINS = []
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]
ALLOW_CONDITIONAL_URLS = True  # the REST API lives behind it
IDENTITY_SERVICE = {"available": False, "url": "", "domains": []}
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "root": {"level": "WARNING", "handlers": []}}
