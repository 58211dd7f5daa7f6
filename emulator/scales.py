"""How many of each entity an emulator account holds: `Scale`, and the named scales (`SCALES`).

The builders read it (`seed` for the account, `governance` for its governance data); it reads
nothing of theirs, so the modules import one way only: `scales` <- `governance` <- `seed`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    products_per_organization: tuple[int, ...]
    environments: tuple[int, int]  # inclusive range, drawn per product
    configs: tuple[int, int]
    flags: tuple[int, int]  # per config
    permission_groups: tuple[int, int]
    tags: int  # per product, like everything below that is not per organization
    segments: int
    webhooks: int
    integrations: int
    invitations: int
    users_per_organization: int
    audit_events_per_organization: int
    # The governance data (see `governance`):
    change_requests: tuple[int, int]  # per product, drawn
    busy_change_requests: int  # the account's first product: more than the default page of 25
    deleted_flags: tuple[int, int]  # per config; a product's first config has at least one
    proxy_profiles: int  # per organization


SCALES = {
    "small": Scale(
        products_per_organization=(2, 1),
        environments=(2, 3),
        configs=(2, 3),
        flags=(4, 6),
        permission_groups=(2, 3),
        tags=3,
        segments=2,
        webhooks=2,
        integrations=2,
        invitations=2,
        users_per_organization=6,
        audit_events_per_organization=250,
        change_requests=(4, 7),
        busy_change_requests=30,
        deleted_flags=(1, 3),
        proxy_profiles=2,
    ),
    "medium": Scale(
        products_per_organization=(10, 10),
        environments=(4, 4),
        configs=(3, 3),
        flags=(25, 25),
        permission_groups=(3, 3),
        tags=5,
        segments=4,
        webhooks=3,
        integrations=2,
        invitations=3,
        users_per_organization=15,
        audit_events_per_organization=1000,
        change_requests=(3, 8),
        busy_change_requests=30,
        deleted_flags=(0, 4),
        proxy_profiles=3,
    ),
    "large": Scale(
        products_per_organization=(100, 100),
        environments=(4, 4),
        configs=(3, 3),
        flags=(25, 25),
        permission_groups=(3, 3),
        tags=5,
        segments=4,
        webhooks=3,
        integrations=2,
        invitations=3,
        users_per_organization=40,
        audit_events_per_organization=4000,
        change_requests=(3, 6),
        busy_change_requests=30,
        deleted_flags=(0, 4),
        proxy_profiles=4,
    ),
    # Two shapes of about the same number of requests, under the 500-a-minute limit, for choosing
    # the concurrency: a few products holding many flags (most requests are per flag), and many
    # products holding a few (most requests are per product).
    "many-flags": Scale(
        products_per_organization=(2,),
        environments=(3, 3),
        configs=(4, 4),
        flags=(40, 40),
        permission_groups=(3, 3),
        tags=5,
        segments=4,
        webhooks=3,
        integrations=2,
        invitations=3,
        users_per_organization=10,
        audit_events_per_organization=500,
        change_requests=(3, 5),
        busy_change_requests=30,
        deleted_flags=(1, 3),
        proxy_profiles=2,
    ),
    "many-products": Scale(
        products_per_organization=(13,),
        environments=(2, 2),
        configs=(2, 2),
        flags=(3, 3),
        permission_groups=(2, 2),
        tags=2,
        segments=1,
        webhooks=1,
        integrations=1,
        invitations=1,
        users_per_organization=10,
        audit_events_per_organization=500,
        change_requests=(3, 3),
        busy_change_requests=30,
        deleted_flags=(1, 1),
        proxy_profiles=2,
    ),
}
