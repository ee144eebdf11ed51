"""Production settings with the proposal's URL configuration and authentication
(``bench/proposal.py``); nothing else differs."""

from config.settings import *  # noqa: F403
from config.settings import REST_FRAMEWORK

ROOT_URLCONF = "bench.proposal"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["bench.proposal_auth.FastSessionTokenAuthentication"],
}
