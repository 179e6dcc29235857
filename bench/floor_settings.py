"""Settings for the acknowledgement benchmark: the test settings, plus one extra view (bench/floor_urls.py) that is
the database floor the webhook acknowledgement is measured against. Never used outside bench/."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
