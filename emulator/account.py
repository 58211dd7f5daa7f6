"""The ConfigCat account that the emulator serves, and the questions asked of it.

`Account` holds every entity in the exact shapes of ConfigCat's OpenAPI document (camelCase dicts
with their embedded `product` objects), keyed by the id of their parent, so that tests can count
what a sync has to produce without going through HTTP. Beyond plain lookups it answers what takes
more than one: stale flags, audit log windows and their retention, the fewest requests a full sync
needs. Date-times are `UtcDateTime`s, exact to .NET's tick; the server writes them as it is set to
(see `datetimes`).

Neighbours: `seed` fills an Account from a seed and a scale (`build_account`); `routes` answers
each API path from it; `server` serves the routes over HTTP.
"""

from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from .datetimes import UtcDateTime, ticks_of

# Every secret value contains this, so tests can grep any output for leaked secrets.
SECRET_MARKER = "emusecret"

# The account's "now" until an event is recorded later; every seeded date is drawn back from it.
BASE_DATE = datetime(2026, 11, 1, tzinfo=UTC)

# The audit log retention the server applies unless it is set to another plan's.
AUDIT_LOG_RETENTION_DAYS = 750

# The values endpoint of each evaluation version (see `Account.values_template`).
V1_VALUES = "/v1/configs/{configId}/environments/{environmentId}/values"
V2_VALUES = "/v2/configs/{configId}/environments/{environmentId}/values"

# The ChangeRequestStatus enum of the OpenAPI document, in its order.
CHANGE_REQUEST_STATUSES = ("open", "applied", "closed")

# The AuditLogType enum of the OpenAPI document (2026-08), in the document's order.
AUDIT_LOG_TYPES = [
    "productCreated",
    "productChanged",
    "productDeleted",
    "productsReordered",
    "productPreferencesUpdated",
    "teamMemberInvited",
    "teamMemberInvitationRevoked",
    "teamMemberJoined",
    "teamMemberPermissionGroupChanged",
    "teamMemberRemoved",
    "teamMemberLeft",
    "teamMemberInvitationChanged",
    "teamMemberInvitationResent",
    "teamMemberInvitationRejected",
    "teamMemberAddedToProduct",
    "configCreated",
    "configChanged",
    "configDeleted",
    "configsReordered",
    "environmentCreated",
    "environmentChanged",
    "environmentDeleted",
    "environmentsReordered",
    "settingCreated",
    "settingChanged",
    "settingDeleted",
    "settingsReordered",
    "predefinedVariationsChanged",
    "settingConvertedToPredefinedVariations",
    "settingConvertedToFreeFormValues",
    "settingValueChanged",
    "webHookCreated",
    "webHookChanged",
    "webHookDeleted",
    "permissionGroupCreated",
    "permissionGroupChanged",
    "permissionGroupDeleted",
    "permissionGroupDefault",
    "apiKeyAdded",
    "apiKeyRemoved",
    "integrationAdded",
    "integrationChanged",
    "integrationRemoved",
    "apiKeyConnected",
    "integrationLinkAdded",
    "integrationLinkRemoved",
    "organizationAdded",
    "organizationChanged",
    "organizationSubscriptionTypeChanged",
    "organizationAdminChanged",
    "organizationAdminLeft",
    "twoFactorDisabledForMember",
    "tagAdded",
    "tagChanged",
    "tagRemoved",
    "settingTagAdded",
    "settingTagRemoved",
    "publicApiAccessTokenAdded",
    "publicApiAccessTokenRemoved",
    "domainAdded",
    "domainVerified",
    "domainRemoved",
    "autoProvisioningConfigurationChanged",
    "samlIdpConfigurationAdded",
    "samlIdpConfigurationRemoved",
    "samlIdpConfigurationUpdated",
    "autoProvisioningEnabledChanged",
    "organizationMemberJoined",
    "organizationMemberProductJoinRequested",
    "organizationMemberProductJoinRequestRejected",
    "organizationMemberProductJoinRequestApproved",
    "organizationMemberRemoved",
    "codeReferencesUploaded",
    "codeReferenceDeleted",
    "codeReferenceStaleBranchDeleted",
    "segmentCreated",
    "segmentChanged",
    "segmentDeleted",
    "webhookSigningKeyDeleted",
    "webhookSigningKeyCreated",
    "userProvisioningConfigurationChanged",
    "syncGroupProvisioningRuleChanged",
    "syncGroupsReordered",
    "syncUserProvisioningEnabled",
    "syncUserProvisioningDisabled",
    "userEmailChanged",
    "userFullNameChanged",
    "userDisabled",
    "awsConnected",
    "awsDisconnected",
    "userEnabled",
    "syncUserDeleted",
    "syncGroupDeleted",
    "proxyConfigurationCreated",
    "proxyConfigurationChanged",
    "proxyConfigurationDeleted",
    "proxyConfigurationSecretRegenerated",
    "proxyNotificationSettingsUpdated",
    "proxyNotificationSettingsDeleted",
    "proxyNotificationSigningKeyAdded",
    "proxyNotificationSigningKeyDeleted",
    "changeRequestCreated",
    "changeRequestUpdated",
    "changeRequestSettingValuesUpdated",
    "changeRequestSettingValueRebased",
    "changeRequestApproved",
    "changeRequestApprovalDismissed",
    "changeRequestApplied",
    "changeRequestAppliedOnSchedule",
    "changeRequestClosed",
    "changeRequestNeedsAttention",
    "changeRequestCommentAdded",
    "changeRequestCommentEdited",
    "changeRequestCommentDeleted",
    "changeRequestSettingDeleted",
    "changeRequestNeedsAttentionFixed",
    "changeRequestOwnershipClaimed",
]


class Account:
    """One ConfigCat account as the credential's user sees it.

    Lists keyed by a parent id keep the parent's order, which is also the order served.
    """

    def __init__(self, seed: int, scale: str) -> None:
        self.seed = seed
        self.scale = scale
        self.base_date = BASE_DATE
        self.me: dict[str, str] = {}
        self.organizations: list[dict] = []
        self.products: list[dict] = []
        # productId -> list
        self.environments: dict[str, list[dict]] = {}
        self.configs: dict[str, list[dict]] = {}
        self.tags: dict[str, list[dict]] = {}
        self.segments: dict[str, list[dict]] = {}
        self.permission_groups: dict[str, list[dict]] = {}
        self.product_members: dict[str, list[dict]] = {}
        self.product_invitations: dict[str, list[dict]] = {}
        self.webhooks: dict[str, list[dict]] = {}
        self.integrations: dict[str, list[dict]] = {}
        # configId -> SettingModel list
        self.settings: dict[str, list[dict]] = {}
        # (configId, environmentId) -> ConfigSettingValueModel list (v1 configs) or
        # ConfigSettingFormulaModel list (v2 configs), in the order of `settings`
        self.setting_values: dict[tuple[str, str], list[dict]] = {}
        self.sdk_keys: dict[tuple[str, str], dict] = {}
        self.webhook_signing_keys: dict[int, dict] = {}
        # organizationId -> value
        self.organization_members: dict[str, dict] = {}  # OrganizationMembersModel (v2)
        # UserModel list (v1 members): admins, billing managers and members, each once
        self.organization_users: dict[str, list[dict]] = {}
        self.organization_invitations: dict[str, list[dict]] = {}
        self.feature_flag_limitations: dict[str, dict] = {}
        # OrganizationLimitations: the feature flag limitations plus maxPredefinedVariations
        self.organization_limitations: dict[str, dict] = {}
        self.proxy_profiles: dict[str, list[dict]] = {}  # ProxyProfileModel list
        self.audit_logs: dict[str, list[dict]] = {}  # in the order the events were recorded
        # auditLogId -> {"productId", "configId", "environmentId"} (each may be None): the
        # scope the API filters on but does not return
        self.audit_log_scopes: dict[int, dict[str, str | None]] = {}
        self.watched_setting_ids: set[int] = set()
        self.code_referenced_setting_ids: set[int] = set()
        # productId -> value
        self.preferences: dict[str, dict] = {}  # PreferencesModel
        # ChangeRequestModel list, newest first (createdAt, then changeRequestId)
        self.change_requests: dict[str, list[dict]] = {}
        # configId -> DeletedSettingModel list
        self.deleted_settings: dict[str, list[dict]] = {}
        # settingId -> CodeReferenceModel list (empty for a flag no scan found), every setting; a
        # report (codeReferenceId) covers several flags of one config, listed under each
        self.code_references: dict[int, list[dict]] = {}
        # (configId, environmentId) -> the SDK ID a Proxy Profile lists with the pair's SDK keys
        self.sdk_ids: dict[tuple[str, str], str] = {}

        self.organizations_by_id: dict[str, dict] = {}
        self.products_by_id: dict[str, dict] = {}
        self.configs_by_id: dict[str, dict] = {}
        self.environments_by_id: dict[str, dict] = {}
        self.change_requests_by_id: dict[int, dict] = {}
        self.proxy_profiles_by_id: dict[str, dict] = {}

        self._next_audit_log_id = 1
        self._audit_lock = threading.Lock()

    # -- lookups ------------------------------------------------------------------------------

    def product_of_config(self, config_id: str) -> dict:
        return self.configs_by_id[config_id]["product"]

    def values_template(self, config_id: str) -> str:
        """The values endpoint that serves this config's evaluation version."""
        return (
            V1_VALUES if self.configs_by_id[config_id]["evaluationVersion"] == "v1" else V2_VALUES
        )

    def secrets(self) -> list[str]:
        """Every secret value the account holds (the API password is the server's business)."""
        found = []
        for keys in self.sdk_keys.values():
            found += [key for key in (keys["primary"], keys["secondary"]) if key]
        for keys in self.webhook_signing_keys.values():
            found += [key for key in (keys["key1"], keys["key2"]) if key]
        for webhooks in self.webhooks.values():
            for webhook in webhooks:
                found += [h["value"] for h in webhook["webHookHeaders"] if h["isSecure"]]
        for integrations in self.integrations.values():
            for integration in integrations:
                found += list((integration["parameters"] or {}).values())
        for profiles in self.proxy_profiles.values():
            for profile in profiles:
                notification = profile["connectionPreferences"]["webhookNotification"]
                if notification is not None:
                    found += [
                        key
                        for key in (notification["signingKey1"], notification["signingKey2"])
                        if key
                    ]
        return found

    def expected_requests(self) -> dict[str, int]:
        """The fewest GETs per endpoint template that a full sync of every stream needs.

        Left out: /v1/me (a connection check, not a stream), the deprecated v1 members, the
        secret-bearing SDK key, webhook signing key and Proxy Profile SDK key endpoints, and
        audit logs, whose page count depends on the window (see `audit_log_page_count`).
        Change requests: every page of each product's list at pageSize 100 (one for an empty
        list), then one GET of each change request's details.
        """
        per_organization = len(self.organizations)
        per_product = len(self.products)
        counts = {
            "/v1/organizations": 1,
            "/v1/products": 1,
            "/v2/organizations/{organizationId}/members": per_organization,
            "/v1/organizations/{organizationId}/invitations": per_organization,
            "/v1/organizations/{organizationId}/proxy-profiles": per_organization,
            "/v1/organizations/{organizationId}/organization-limitations": per_organization,
        }
        for child in (
            "configs",
            "environments",
            "tags",
            "segments",
            "permissions",
            "members",
            "invitations",
            "webhooks",
            "integrations",
            "staleflags",
            "preferences",
        ):
            counts[f"/v1/products/{{productId}}/{child}"] = per_product
        counts["/v2/products/{productId}/change-requests"] = sum(
            self.change_request_page_count(product["productId"]) for product in self.products
        )
        counts["/v2/change-requests/{changeRequestId}"] = len(self.change_requests_by_id)
        counts["/v1/configs/{configId}/settings"] = len(self.configs_by_id)
        counts["/v1/configs/{configId}/deleted-settings"] = len(self.configs_by_id)
        counts["/v1/settings/{settingId}/code-references"] = sum(
            len(settings) for settings in self.settings.values()
        )
        counts[V1_VALUES] = 0
        counts[V2_VALUES] = 0
        for product in self.products:
            environment_count = len(self.environments[product["productId"]])
            for config in self.configs[product["productId"]]:
                counts[self.values_template(config["configId"])] += environment_count
        return counts

    # -- stale flags --------------------------------------------------------------------------

    def stale_flags(
        self,
        product_id: str,
        *,
        stale_flag_age_days: int = 30,
        scope: str = "all",
        stale_in_environments_type: str = "staleInAnyEnvironments",
        ignored_environment_ids: frozenset[str] = frozenset(),
        ignored_tag_ids: frozenset[int] = frozenset(),
    ) -> dict:
        """The StaleFlagProductModel of a product.

        A value is stale when it was last updated before base date minus `stale_flag_age_days`;
        ignored environments never count as stale. A setting is listed when it is stale in any
        (or all, per `stale_in_environments_type`) of the environments not ignored.
        """
        product = self.products_by_id[product_id]
        threshold = UtcDateTime(self.base_date - timedelta(days=stale_flag_age_days))
        environments = self.environments[product_id]
        considered = {
            e["environmentId"]
            for e in environments
            if e["environmentId"] not in ignored_environment_ids
        }
        require = all if stale_in_environments_type == "staleInAllEnvironments" else any
        configs = []
        for config in self.configs[product_id]:
            config_id = config["configId"]
            values_in = {
                e["environmentId"]: self.setting_values[(config_id, e["environmentId"])]
                for e in environments
            }
            stale_settings = []
            for index, setting in enumerate(self.settings[config_id]):
                if scope == "watchedByMe" and setting["settingId"] not in self.watched_setting_ids:
                    continue
                if any(tag["tagId"] in ignored_tag_ids for tag in setting["tags"]):
                    continue
                setting_values = []
                for environment in environments:
                    environment_id = environment["environmentId"]
                    updated_at = values_in[environment_id][index]["updatedAt"]
                    is_stale = (
                        environment_id in considered
                        and updated_at is not None
                        and updated_at < threshold
                    )
                    setting_values.append(
                        {
                            "environmentId": environment_id,
                            "updatedAt": updated_at,
                            "isStale": is_stale,
                        }
                    )
                stale_states = [
                    value["isStale"]
                    for value in setting_values
                    if value["environmentId"] in considered
                ]
                if not stale_states or not require(stale_states):
                    continue
                # Setting tags are the same in every environment; read them from the first.
                setting_tags = values_in[environments[0]["environmentId"]][index]["settingTags"]
                stale_settings.append(
                    {
                        "settingId": setting["settingId"],
                        "name": setting["name"],
                        "key": setting["key"],
                        "hint": setting["hint"],
                        "hasCodeReferences": setting["settingId"]
                        in self.code_referenced_setting_ids,
                        "tags": [
                            {"tagId": tag["tagId"], "settingTagId": tag["settingTagId"]}
                            for tag in setting_tags
                        ],
                        "settingValues": setting_values,
                    }
                )
            configs.append(
                {
                    "configId": config_id,
                    "name": config["name"],
                    "evaluationVersion": config["evaluationVersion"],
                    "hasCodeReferences": any(
                        s["settingId"] in self.code_referenced_setting_ids
                        for s in self.settings[config_id]
                    ),
                    "settings": stale_settings,
                }
            )
        return {
            "productId": product_id,
            "name": product["name"],
            "configs": configs,
            "environments": [
                {"environmentId": e["environmentId"], "name": e["name"]} for e in environments
            ],
        }

    # -- change requests ----------------------------------------------------------------------

    def change_request_summary(self, detail: dict) -> dict:
        """The ChangeRequestSummaryModel of a ChangeRequestModel: the list's view of it."""
        return {
            "changeRequestId": detail["changeRequestId"],
            "changeRequestStatus": detail["changeRequestStatus"],
            "needsAttention": detail["needsAttention"],
            "title": detail["title"],
            "reason": detail["reason"],
            "applyAt": detail["applyAt"],
            "createdAt": detail["createdAt"],
            "creatorUserEmail": detail["creatorUserEmail"],
            "creatorUserFullName": detail["creatorUserFullName"],
            "creatorUserId": detail["creatorUserId"],
            "affectedSettingKeys": [change["settingKey"] for change in detail["settingValues"]],
            "commentCount": len(detail["comments"]),
            "approved": detail["approved"],
            "conflictCount": sum(change["hasConflict"] for change in detail["settingValues"]),
            "bypassApproval": detail["bypassApproval"],
            **{
                key: detail[key]
                for key in (
                    "appliedAt",
                    "appliedByUserId",
                    "appliedByUserEmail",
                    "appliedByUserFullName",
                    "closedAt",
                    "closedByUserId",
                    "closedByUserEmail",
                    "closedByUserFullName",
                )
            },
        }

    def change_request_items(
        self,
        product_id: str,
        *,
        statuses: frozenset[str] | None = None,
        config_id: str | None = None,
        environment_id: str | None = None,
        setting_id: int | None = None,
        scheduled: bool | None = None,
        approve_required: bool | None = None,
        needs_attention: bool | None = None,
    ) -> list[dict]:
        """Summaries of a product's change requests that match every filter given, newest first.

        `statuses` None means every status; `scheduled` is whether applyAt is set;
        `approve_required` whether the change request's environment requires approval.
        """
        selected = []
        for detail in self.change_requests[product_id]:
            environment = self.environments_by_id[detail["environmentId"]]
            setting_ids = {change["settingId"] for change in detail["settingValues"]}
            if (
                (statuses is not None and detail["changeRequestStatus"] not in statuses)
                or (config_id is not None and detail["configId"] != config_id)
                or (environment_id is not None and detail["environmentId"] != environment_id)
                or (setting_id is not None and setting_id not in setting_ids)
                or (scheduled is not None and (detail["applyAt"] is not None) != scheduled)
                or (
                    approve_required is not None
                    and environment["approveRequired"] != approve_required
                )
                or (needs_attention is not None and detail["needsAttention"] != needs_attention)
            ):
                continue
            selected.append(self.change_request_summary(detail))
        return selected

    def change_request_page_count(self, product_id: str, page_size: int = 100, **filters) -> int:
        """GETs needed to list a product's change requests: at least one, even when empty."""
        total = len(self.change_request_items(product_id, **filters))
        return max(1, math.ceil(total / page_size))

    # -- proxy profiles -----------------------------------------------------------------------

    def proxy_profile_sdk_keys(self, proxy_profile_id: str) -> list[dict]:
        """The ProxyProfileSdkKeyItems a Proxy Profile's selection rules select.

        A (config, environment) pair of the profile's organization is selected when an include
        rule matches it and no exclude rule does; a rule matches when each of its filters that is
        set does (ids exactly, names by `*` wildcards, case-insensitively).
        """
        profile = self.proxy_profiles_by_id[proxy_profile_id]
        organization_id = next(
            organization_id
            for organization_id, profiles in self.proxy_profiles.items()
            if profile in profiles
        )
        rules = profile["sdkKeySelectionRules"]
        items = []
        for product in self.products:
            if product["organization"]["organizationId"] != organization_id:
                continue
            for config in self.configs[product["productId"]]:
                for environment in self.environments[product["productId"]]:
                    found = [
                        rule["kind"]
                        for rule in rules
                        if _selection_rule_matches(rule, product, config, environment)
                    ]
                    if "include" not in found or "exclude" in found:
                        continue
                    pair = (config["configId"], environment["environmentId"])
                    keys = self.sdk_keys[pair]
                    items.append(
                        {
                            "primarySdkKey": keys["primary"],
                            "secondarySdkKey": keys["secondary"],
                            "sdkId": self.sdk_ids[pair],
                            "configId": config["configId"],
                            "environmentId": environment["environmentId"],
                        }
                    )
        return items

    # -- audit log ----------------------------------------------------------------------------

    def now_exact(self) -> UtcDateTime:
        """The emulator's "now": the base date, or the newest audit event if that is later."""
        with self._audit_lock:
            stamps = [
                UtcDateTime(item["auditLogDateTime"])
                for items in self.audit_logs.values()
                for item in items
            ]
        # UtcDateTime texts all have one width, so the largest is the latest.
        return max([UtcDateTime(self.base_date), *stamps])

    def now(self) -> datetime:
        """`now_exact()` as a datetime, which drops the 7th fractional digit."""
        return self.now_exact().to_datetime()

    def retention_boundary(self, retention_days: int) -> UtcDateTime:
        """The oldest moment whose audit events a plan with this retention still serves."""
        return UtcDateTime.from_ticks(
            self.now_exact().ticks - ticks_of(timedelta(days=retention_days))
        )

    def audit_log_items(
        self,
        organization_id: str,
        from_utc: datetime | str,
        to_utc: datetime | str,
        *,
        product_id: str | None = None,
        config_id: str | None = None,
        environment_id: str | None = None,
        audit_log_type: str | None = None,
        retention_days: int = AUDIT_LOG_RETENTION_DAYS,
    ) -> list[dict]:
        """Items with from_utc <= auditLogDateTime < to_utc matching the filters, newest first.

        Bounds given as text are compared to the tick, datetimes to their microsecond.
        """
        start, end = UtcDateTime(from_utc), UtcDateTime(to_utc)
        oldest_kept = self.retention_boundary(retention_days)
        wanted = {"productId": product_id, "configId": config_id, "environmentId": environment_id}
        with self._audit_lock:
            items = list(self.audit_logs[organization_id])
        selected = []
        for item in items:
            at = UtcDateTime(item["auditLogDateTime"])
            if not (start <= at < end) or at < oldest_kept:
                continue
            if audit_log_type is not None and item["auditLogTypeEnum"] != audit_log_type:
                continue
            scope = self.audit_log_scopes[item["auditLogId"]]
            if any(value is not None and scope[key] != value for key, value in wanted.items()):
                continue
            selected.append(item)
        selected.sort(
            key=lambda i: (UtcDateTime(i["auditLogDateTime"]), i["auditLogId"]), reverse=True
        )
        return selected

    def audit_log_page_count(
        self,
        organization_id: str,
        from_utc: datetime | str,
        to_utc: datetime | str,
        page_size: int = 100,
        **filters: Any,
    ) -> int:
        """GETs needed to read one window: at least one, even when the window is empty."""
        total = len(self.audit_log_items(organization_id, from_utc, to_utc, **filters))
        return max(1, math.ceil(total / page_size))

    def add_audit_event(self, organization_id: str, at: datetime | str, **overrides: Any) -> dict:
        """Record a new audit log item (next auditLogId) and return it.

        `overrides` replace fields of the item (camelCase, as served) or of its scope
        (`productId`, `configId`, `environmentId`). By default the event is a settingValueChanged
        in the organization's first product, config and environment. `at` is kept as exact as it
        is given: a datetime to its microsecond (a naive one is UTC), text such as
        `2026-11-01T01:00:00.1002513Z` to the tick.
        """
        organization = self.organizations_by_id[organization_id]
        products = [p for p in self.products if p["organization"] is organization]
        product = products[0]
        config = self.configs[product["productId"]][0]
        environment = self.environments[product["productId"]][0]
        scope = {
            "productId": product["productId"],
            "configId": config["configId"],
            "environmentId": environment["environmentId"],
        }
        for key in scope:
            if key in overrides:
                scope[key] = overrides.pop(key)
        audit_type = overrides.get("auditLogTypeEnum", "settingValueChanged")
        if "auditLogDateTime" in overrides:
            overrides["auditLogDateTime"] = UtcDateTime(overrides["auditLogDateTime"])
        with self._audit_lock:
            item = self._new_audit_item(
                at=UtcDateTime(at),
                audit_type=audit_type,
                user=self.organization_users[organization_id][0],
                where=f"{product['name']} / {config['name']} / {environment['name']}",
                action_target=config["name"],
                details={"note": "added by a test"},
                why=None,
            )
            unknown = set(overrides) - set(item)
            if unknown:
                raise ValueError(f"unknown audit log fields: {sorted(unknown)}")
            if "auditLogTypeEnum" in overrides and "auditLogType" not in overrides:
                item["auditLogType"] = audit_type
            item.update(overrides)
            self.audit_logs[organization_id].append(item)
            self.audit_log_scopes[item["auditLogId"]] = scope
        return item

    def _new_audit_item(
        self,
        *,
        at: UtcDateTime,
        audit_type: str,
        user: dict,
        where: str,
        action_target: str,
        details: dict,
        why: str | None,
    ) -> dict:
        audit_log_id = self._next_audit_log_id
        self._next_audit_log_id += 1
        return {
            "auditLogId": audit_log_id,
            "auditLogDateTime": at,
            "auditLogTypeEnum": audit_type,
            "truncated": False,
            "modelVersion": 2,
            "auditLogType": audit_type,
            "userEmail": user["email"],
            "userName": user["fullName"],
            "where": where,
            "why": why,
            "actionTarget": action_target,
            "details": json.dumps(details, separators=(",", ":")),
        }


def _selection_rule_matches(rule: dict, product: dict, config: dict, environment: dict) -> bool:
    for entity, level, id_key in (
        (product, "product", "productId"),
        (config, "config", "configId"),
        (environment, "environment", "environmentId"),
    ):
        wanted_id = rule[f"{level}IdFilter"]
        if wanted_id is not None and entity[id_key] != wanted_id:
            return False
        pattern = rule[f"{level}NameMatchFilter"]
        if pattern is not None and not _wildcard_match(pattern, entity["name"]):
            return False
    return True


def _wildcard_match(pattern: str, name: str) -> bool:
    """`*` matches any run of characters; everything else stands for itself, in any case."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, name, flags=re.IGNORECASE) is not None
