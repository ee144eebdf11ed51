"""Demo organizations (``seed``): ``acme`` (one member per role) and ``globex``, with
invitations; and the organizations, memberships, invitations and their audit
events of ``seed --scale``."""

from __future__ import annotations

from typing import Any

from organizations.models import Invitation, Membership, Organization
from organizations.operations.scale_seed import EPOCH
from organizations.permissions import Role
from organizations.services import invitation_create, organization_create

DEMO_ORGS = {
    "acme": (
        "Acme Corporation",
        [
            ("owner@acme.test", Role.OWNER),
            ("admin@acme.test", Role.ADMIN),
            ("member@acme.test", Role.MEMBER),
            ("viewer@acme.test", Role.VIEWER),
            ("billing@acme.test", Role.BILLING),
        ],
        [("new.hire@acme.test", Role.MEMBER), ("contractor@acme.test", Role.VIEWER)],
    ),
    "globex": (
        "Globex Corporation",
        [("owner@globex.test", Role.OWNER), ("member@globex.test", Role.MEMBER)],
        [("analyst@globex.test", Role.MEMBER)],
    ),
}


def seed_demo(ctx: dict[str, Any]) -> None:
    users = ctx["users"]
    for slug, (name, members, invites) in DEMO_ORGS.items():
        owner = users[members[0][0]]
        org = Organization.objects.filter(slug=slug).first() or organization_create(
            actor=owner, name=name, slug=slug
        )
        for email, role in members[1:]:
            Membership.objects.get_or_create(
                organization=org, user=users[email], defaults={"role": role}
            )
        for email, role in invites:
            if not Invitation.objects.filter(organization=org, email=email).exists():
                invitation_create(
                    actor=owner,
                    actor_role=Role.OWNER,
                    organization_id=org.id,
                    email=email,
                    role=role,
                )


# --- seed --scale --------------------------------------------------------------------

# Roles of the members after the first (who is the owner), by weight.
_SCALE_ROLES = [Role.ADMIN] * 5 + [Role.MEMBER] * 70 + [Role.VIEWER] * 15 + [Role.BILLING] * 5
_SCALE_ROLES += [Role.OWNER] * 5
_WORDS = ["Acme", "Blue", "Cobalt", "Delta", "Ember", "Flux", "Granite", "Harbor", "Iris", "Juno"]
_KINDS = ["Labs", "Works", "Systems", "Studio", "Group", "Partners", "Cloud", "Health"]


def scale_slug(seed: int, index: int) -> str:
    return f"scale-{seed}-{index:05d}"


def scale_memberships(ctx: Any) -> list[tuple[str, float, list[str]]]:
    """``[(organization id, created seconds after the epoch, [member user ids])]`` of this
    seed's scale organizations, in index order (for the domain apps' ``seed_scale``)."""
    slugs = [scale_slug(ctx.seed, o) for o in range(ctx.orgs)]
    ctx.cursor.execute(
        "SELECT o.id::text, extract(epoch FROM o.created_at),"
        " array_agg(m.user_id::text ORDER BY m.created_at, m.id)"
        " FROM organizations_organization o"
        " JOIN organizations_membership m ON m.organization_id = o.id"
        " WHERE o.slug = ANY(%s) GROUP BY o.id, o.slug ORDER BY o.slug",
        [slugs],
    )
    base = EPOCH.timestamp()
    return [(org_id, float(created) - base, users) for org_id, created, users in ctx.cursor]


def seed_scale(ctx: Any) -> None:
    """``ctx.orgs`` organizations, each with ``ctx.rows_per_org`` members drawn from the
    user pool (the first is the owner; roles vary), as many invitations (accepted,
    revoked, expired or pending), and the audit events the services would have written
    (``org.created`` and one ``member.joined`` per member), chained by the trigger."""
    from audit.models import AuditEvent
    from organizations.operations.pg import OperationError

    if Organization.objects.filter(slug=scale_slug(ctx.seed, 0)).exists():
        raise OperationError(f"scale data for --seed {ctx.seed} is already loaded.")
    rng = ctx.rng("organizations")
    users = ctx.data["users"]
    per_org = min(ctx.rows_per_org, len(users))
    orgs = []
    for o in range(ctx.orgs):
        name = f"{rng.choice(_WORDS)} {rng.choice(_KINDS)} {o}"
        orgs.append(
            (ctx.uuid("org", o), scale_slug(ctx.seed, o), name, rng.uniform(0, 300 * 86400))
        )
    ctx.copy(
        Organization._meta.db_table,
        ["id", "name", "slug", "suspended_at", "created_at", "updated_at"],
        (
            (org_id, name, slug, None, ctx.timestamp(t), ctx.timestamp(t))
            for org_id, slug, name, t in orgs
        ),
    )
    members = [rng.sample(range(len(users)), per_org) for _ in orgs]
    roles = [
        [Role.OWNER.value] + [rng.choice(_SCALE_ROLES).value for _ in range(per_org - 1)]
        for _ in orgs
    ]

    def memberships() -> Any:
        for o, (org_id, _, _, t) in enumerate(orgs):
            for j, user in enumerate(members[o]):
                at = ctx.timestamp(t + j * 60)
                yield (ctx.uuid("membership", o, j), org_id, users[user][0], roles[o][j], at, at)

    ctx.copy(
        Membership._meta.db_table,
        ["id", "organization_id", "user_id", "role", "created_at", "updated_at"],
        memberships(),
    )

    def invitations() -> Any:
        for o, (org_id, slug, _, t) in enumerate(orgs):
            owner = users[members[o][0]][0]
            for j in range(ctx.rows_per_org):
                created = t + 3600 + j * 30
                sent = ctx.timestamp(created)
                state = rng.random()
                accepted = revoked = None
                expires = ctx.timestamp(created + 7 * 86400)
                if state < 0.3:
                    accepted = ctx.timestamp(created + 86400)
                elif state < 0.4:
                    revoked = ctx.timestamp(created + 3600)
                elif state < 0.6:  # still pending: expires long after the epoch
                    expires = ctx.timestamp(created + 3650 * 86400)
                accepted_by = users[rng.randrange(len(users))][0] if accepted else None
                yield (
                    ctx.uuid("invitation", o, j), org_id, f"invitee{j:05d}@{slug}.scale.test",
                    rng.choice(_SCALE_ROLES[:-5]).value, f"{rng.getrandbits(256):064x}", owner,
                    expires, sent, 1, accepted, accepted_by, revoked, sent,
                    accepted or revoked or sent,
                )  # fmt: skip

    ctx.copy(
        Invitation._meta.db_table,
        ["id", "organization_id", "email", "role", "token_hash", "invited_by_id", "expires_at",
         "sent_at", "send_count", "accepted_at", "accepted_by_id", "revoked_at", "created_at",
         "updated_at"],
        invitations(),
    )  # fmt: skip

    def events() -> Any:
        # Per organization in time order: the trigger numbers and chains them as it reads them.
        for o, (org_id, slug, name, t) in enumerate(orgs):
            owner_id, owner_email = users[members[o][0]]
            yield (
                ctx.uuid("audit", o, "created"), org_id, 0, "org.created", "user", owner_id,
                owner_email, "organizations.organization", org_id,
                f'{{"name": "{name}", "slug": "{slug}"}}', None, "", "", ctx.timestamp(t), "", "",
            )  # fmt: skip
            for j, user in enumerate(members[o]):
                user_id = users[user][0]
                yield (
                    ctx.uuid("audit", o, j), org_id, 0, "member.joined", "user",
                    owner_id if j else user_id, owner_email, "organizations.membership",
                    ctx.uuid("membership", o, j),
                    f'{{"role": "{roles[o][j]}", "user": "{user_id}"}}', None, "", "",
                    ctx.timestamp(t + j * 60), "", "",
                )  # fmt: skip

    ctx.copy(
        AuditEvent._meta.db_table,
        ["id", "organization_id", "sequence", "action", "actor_type", "actor_id", "actor_label",
         "target_type", "target_id", "changes", "ip_address", "user_agent", "request_id",
         "created_at", "prev_hash", "hash"],
        events(),
    )  # fmt: skip
