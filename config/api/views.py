from __future__ import annotations

import json

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# The login role, and every role it may SET ROLE to: the closure of its grants in
# pg_auth_members (on PostgreSQL 16+ only grants that carry the SET option).
ROLE_FACTS_SQL = """
WITH RECURSIVE reachable(roleid) AS (
    SELECT m.roleid FROM pg_auth_members m
      JOIN pg_roles login ON login.oid = m.member
     WHERE login.rolname = session_user
    UNION
    SELECT m.roleid FROM pg_auth_members m JOIN reachable r ON m.member = r.roleid
)
SELECT login.rolname, login.rolsuper, login.rolbypassrls,
       coalesce(json_agg(json_build_object(
           'role', target.rolname, 'superuser', target.rolsuper,
           'bypasses_rls', target.rolbypassrls) ORDER BY target.rolname)
         FILTER (WHERE target.oid IS NOT NULL
                   AND CASE WHEN current_setting('server_version_num')::int >= 160000
                            THEN pg_has_role(session_user, target.oid, 'SET') ELSE true END),
         '[]')
  FROM pg_roles login
  LEFT JOIN reachable ON true
  LEFT JOIN pg_roles target ON target.oid = reachable.roleid
 WHERE login.rolname = session_user
 GROUP BY login.rolname, login.rolsuper, login.rolbypassrls
"""


class HealthView(APIView):
    """Liveness and readiness: the database answers; which roles the process can act as.

    The login role is subject to RLS, but it may ``SET ROLE`` to the service
    role (``service_context``), which bypasses it: RLS protects against a bug in
    our queries, not against arbitrary SQL run as the login role (see "Trust
    model" in ``docs/architecture.md``). The answer says exactly that — the
    login role and every role it may switch to — instead of "cannot bypass RLS".
    Not ready (503) when the login role itself bypasses RLS or is, or may become,
    a superuser.

    Anyone may ask (load balancers, uptime checks): they get the status. The role
    facts (``database_role``, names of the installation's roles) are for staff signed
    in to the admin only.
    """

    authentication_classes = [SessionAuthentication]  # the admin's session; never a 401
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.CharField(),
                "database": serializers.CharField(),
                "database_role": inline_serializer(
                    "HealthDatabaseRole",
                    {
                        "login": serializers.CharField(),
                        "bypasses_rls": serializers.BooleanField(),
                        "may_set_role": inline_serializer(
                            "HealthSwitchableRole",
                            {
                                "role": serializers.CharField(),
                                "superuser": serializers.BooleanField(),
                                "bypasses_rls": serializers.BooleanField(),
                            },
                            many=True,
                        ),
                    },
                    required=False,
                    help_text="Only for staff signed in to the admin.",
                ),
            },
        )
    )
    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute(ROLE_FACTS_SQL)
                login, superuser, bypasses_rls, switchable = cursor.fetchone()
        except DatabaseError:
            return Response({"status": "error", "database": "unavailable"}, status=503)
        if isinstance(switchable, str):  # Django hands json over as text
            switchable = json.loads(switchable)
        if superuser or bypasses_rls:
            # SECURITY: serving with a role that skips RLS would expose every tenant.
            body, status = {"status": "error", "database": "role bypasses RLS"}, 503
        elif any(target["superuser"] for target in switchable):
            body, status = {"status": "error", "database": "role may become a superuser"}, 503
        else:
            body, status = {"status": "ok", "database": "ok"}, 200
        if request.user.is_active and request.user.is_staff:
            body["database_role"] = {
                "login": login,
                "bypasses_rls": bool(superuser or bypasses_rls),
                "may_set_role": switchable,
            }
        return Response(body, status=status)
