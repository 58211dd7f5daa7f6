"""What a full sync of an emulator account must deliver: the number of records of each stream.

Computed from the account the emulator serves, never copied from a sync; one place for every
test that checks a sync's output (full syncs, faults, the main job, the platform's runtimes,
PyAirbyte).
"""

from emulator import Account


def expected_records(account: Account) -> dict[str, int]:
    products = [product["productId"] for product in account.products]

    def per_product(lists: dict) -> int:
        return sum(len(lists[product]) for product in products)

    def all_items(lists: dict) -> int:
        return sum(map(len, lists.values()))

    members = account.organization_members.values()
    return {
        "organizations": len(account.organizations),
        "organization_members": sum(
            len(m["admins"]) + len(m["billingManagers"]) + len(m["members"]) for m in members
        ),
        "organization_invitations": all_items(account.organization_invitations),
        "organization_limitations": len(account.organization_limitations),
        "proxy_profiles": all_items(account.proxy_profiles),
        "products": len(products),
        "product_preferences": len(account.preferences),
        "product_invitations": per_product(account.product_invitations),
        "tags": per_product(account.tags),
        "environments": per_product(account.environments),
        "configs": per_product(account.configs),
        "feature_flags": all_items(account.settings),
        "feature_flag_values": all_items(account.setting_values),
        "deleted_flags": all_items(account.deleted_settings),
        "code_references": all_items(account.code_references),
        "change_requests": per_product(account.change_requests),
        "segments": per_product(account.segments),
        "permission_groups": per_product(account.permission_groups),
        "product_members": per_product(account.product_members),
        "webhooks": per_product(account.webhooks),
        "integrations": per_product(account.integrations),
        "stale_flags": sum(
            len(config["settings"])
            for product in products
            for config in account.stale_flags(product)["configs"]
        ),
        "audit_logs": all_items(account.audit_logs),
    }
