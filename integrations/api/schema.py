"""OpenAPI: API keys are a bearer scheme of their own (``Authorization: Bearer saas_…``)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.apikeys.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization API key (`saas_…`), valid on that organization's"
            " routes only, with the lower of its role and its creator's.",
        }
