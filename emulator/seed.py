"""The seeded data that fills an `Account`: `build_account(seed, scale)`.

Every name, id, value and date is drawn from `random.Random(seed)` and the account's fixed base
date (`account.BASE_DATE`), never from the wall clock, so the same seed and scale give
byte-identical responses. `scales.SCALES` says how many of each entity a scale holds; the word
lists after `build_account` are what names and values are drawn from, and `_Builder` draws them. The
governance data (change requests, deleted flags, code references, preferences, Proxy Profiles,
organization limitations) is drawn last, by `governance`, from a generator of its own.

Neighbours: `account` holds the model this fills and its queries; `routes` answers each API path
from it; `server` serves the routes over HTTP.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .account import BASE_DATE, SECRET_MARKER, Account
from .datetimes import UtcDateTime, ticks_of, ticks_since_epoch
from .governance import GovernanceBuilder
from .scales import SCALES
from .texts import TypedText

# A seeded invitation older than this is `expired`.
INVITATION_LIFETIME = timedelta(days=14)

SETTING_TYPES = ("boolean", "string", "int", "double")


def build_account(seed: int = 1, scale: str = "small") -> Account:
    """The account of this seed at this scale (a key of `SCALES`), the same every time."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {sorted(SCALES)}")
    return _Builder(seed, scale).build()


# -- generation -------------------------------------------------------------------------------

ORGANIZATION_NAMES = ["Acme Corp", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Digital"]
PRODUCT_WORDS = [
    "Checkout",
    "Mobile App",
    "Backend Platform",
    "Search",
    "Payments",
    "Onboarding",
    "Analytics",
    "Marketplace",
    "Notifications",
    "Admin Portal",
]
ENVIRONMENTS = [
    ("Production", "#E53935"),
    ("Staging", "#FB8C00"),
    ("Development", "#43A047"),
    ("Test", None),
]
CONFIG_NAMES = ["Main Config", "Frontend", "Backend", "Experiments"]
FIRST_NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
LAST_NAMES = ["Smith", "Jones", "Nagy", "Kovacs", "Garcia", "Muller", "Rossi", "Tanaka", "Novak"]
FLAG_VERBS = ["enable", "show", "use", "allow", "is", "has"]
FLAG_NOUNS = [
    "DarkMode",
    "BetaBanner",
    "NewCheckout",
    "FastSearch",
    "Recommendations",
    "ChatWidget",
    "PromoCodes",
    "Cache",
    "Telemetry",
    "Onboarding",
    "Reviews",
    "Wishlist",
]
# How some last names are written where people spell them (their email addresses keep ASCII).
DISPLAYED_LAST_NAMES = {
    "Muller": "Müller",
    "Kovacs": "Kovács",
    "Garcia": "García",
    "Novak": "Novák",
    "Tanaka": "Tanaka (田中)",
}
TAG_NAMES = [("frontend", "panther"), ("backend", "whale"), ("experiment", None), ("ops", "salmon")]
TAG_NAMES += [("legacy", "citrus"), ("mobile", "koala")]
STRING_VALUES = ["red", "green", "blue", "variant-a", "variant-b", "control"]
INTEGRATION_TYPES = ["dataDog", "slack", "amplitude", "mixPanel", "segment", "pubNub"]
# (comparisonAttribute, v1 RolloutRuleComparator, comparisonValue)
V1_USER_RULES = [
    ("Email", "contains", "@example.com"),
    ("Country", "isOneOf", "HU,DE,NL"),
    ("AppVersion", "semVerGreater", "2.1.0"),
    ("Identifier", "sensitiveIsOneOf", "9f7c1a2b"),
    ("Age", "numberGreaterOrEquals", "18"),
]
AUDIT_WEIGHTS = [
    ("settingValueChanged", 10),
    ("settingChanged", 3),
    ("settingCreated", 2),
    ("settingTagAdded", 1),
    ("configChanged", 1),
    ("environmentChanged", 1),
    ("tagAdded", 1),
    ("segmentChanged", 1),
    ("webHookChanged", 1),
    ("permissionGroupChanged", 1),
    ("teamMemberInvited", 1),
    ("integrationChanged", 1),
    ("changeRequestCreated", 1),
    ("productChanged", 1),
    ("organizationChanged", 1),
]


# (comparisonAttribute, UserComparator, comparison value: list, text or number)
V2_USER_CONDITIONS = [
    ("Email", "containsAnyOf", ["@example.com", "@example.org"]),
    ("Country", "isOneOf", ["HU", "DE", "NL"]),
    ("Identifier", "sensitiveIsOneOf", ["3a1f0c2d", "9b7e5d4c"]),
    ("AppVersion", "semVerGreater", "2.1.0"),
    ("Plan", "textEquals", "enterprise"),
    ("Age", "numberGreaterOrEquals", 18.0),
    ("SignupDate", "dateTimeAfter", 1767225600.0),
]


@dataclass
class _Flag:
    """A setting with what its values share in every environment."""

    setting: dict
    index: int
    creator: dict | None
    integration_links: list[dict]
    setting_tags: list[dict]


class _Builder:
    def __init__(self, seed: int, scale: str) -> None:
        self.rng = random.Random(seed)
        # Fractions of seconds come from a generator of their own, so that they leave every
        # other value of a seed as it was before date-times had them.
        self.fraction_rng = random.Random(f"{seed}:fractions")
        # Free text as users type it (see `texts`), from generators of their own as well.
        self.texts = TypedText(seed, "seed")
        self.sizes = SCALES[scale]
        self.account = Account(seed, scale)
        self.next_setting_id = 1001
        self.next_tag_id = 501
        self.next_setting_tag_id = 9001
        self.next_permission_group_id = 301
        self.next_webhook_id = 71
        # organizationId -> everyone who appears in that organization's data, listed or not
        self.users: dict[str, list[dict]] = {}

    # -- small helpers ------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, length: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def days_ago(self, low: int, high: int) -> datetime:
        """A whole-second moment between `high` and `low` days before the base date."""
        return BASE_DATE - timedelta(seconds=self.rng.randrange(low * 86400, high * 86400))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def precise(self, moment: datetime) -> UtcDateTime:
        """A whole-second moment plus a fraction, in the mix a real account holds: mostly full
        ticks (.NET's clock), some milliseconds only (e.g. from a database column), some none
        (e.g. from an import)."""
        roll = self.fraction_rng.random()
        if roll < 0.15:
            fraction = 0
        elif roll < 0.35:
            fraction = self.fraction_rng.randrange(1000) * 10_000
        else:
            fraction = self.fraction_rng.randrange(10_000_000)
        return UtcDateTime.from_ticks(ticks_since_epoch(moment) + fraction)

    # -- the account --------------------------------------------------------------------------

    def build(self) -> Account:
        account = self.account
        names = self.rng.sample(ORGANIZATION_NAMES, len(self.sizes.products_per_organization))
        product_names = iter(self._product_names())
        for name, product_count in zip(names, self.sizes.products_per_organization, strict=True):
            organization = {"organizationId": self.uuid(), "name": name}
            account.organizations.append(organization)
            account.organizations_by_id[organization["organizationId"]] = organization
            users = self.users[organization["organizationId"]] = self._users(organization)
            if account.organizations[0] is not organization:
                # The first organization's admin (whose credential reads the account) is this
                # one's admin too: the same user (id, name, email), as ConfigCat has one user
                # for a person in every organization and product.
                users[0] = self.users[account.organizations[0]["organizationId"]][0]
            account.feature_flag_limitations[organization["organizationId"]] = self._limitations()
            products = [
                self._product(organization, next(product_names), order)
                for order in range(product_count)
            ]
            for product in products:
                self._fill_product(product, users)
            self._organization_people(organization, users, products)
            account.audit_logs[organization["organizationId"]] = []
        admin = account.organization_members[account.organizations[0]["organizationId"]]["admins"][
            0
        ]
        account.me = {"email": admin["email"], "fullName": admin["fullName"]}
        for organization in account.organizations:
            self._audit_log(organization)
        GovernanceBuilder(account, self.sizes, self.users).build()
        return account

    def _product_names(self) -> list[str]:
        total = sum(self.sizes.products_per_organization)
        words = self.rng.sample(PRODUCT_WORDS, min(total, len(PRODUCT_WORDS)))
        return [
            words[i % len(words)] + ("" if i < len(words) else f" {i // len(words) + 1}")
            for i in range(total)
        ]

    def _limitations(self) -> dict:
        paid = self.chance(0.5)
        return {
            "maxPercentageOptionCount": 100 if paid else 10,
            "maxTargetingRuleCount": 100 if paid else 20,
            "maxComparisonValueLength": 65535 if paid else 255,
            "maxComparisonValueListLength": 1000 if paid else 100,
            "maxComparisonValueListItemLength": 65535 if paid else 255,
            "maxStringFlagValueLength": 100000 if paid else 1000,
            "maxConditionPerTargetingRuleCount": 10 if paid else 3,
        }

    def _users(self, organization: dict) -> list[dict]:
        domain = organization["name"].lower().replace(" ", "") + ".example.com"
        users = []
        for first, last in self.rng.sample(
            [(f, ln) for f in FIRST_NAMES for ln in LAST_NAMES], self.sizes.users_per_organization
        ):
            users.append(
                {
                    "userId": self.uuid(),
                    "fullName": f"{first} {DISPLAYED_LAST_NAMES.get(last, last)}",
                    "email": f"{first}.{last}@{domain}".lower(),
                    "twoFactorEnabled": self.chance(0.6),
                }
            )
        return users

    def _product(self, organization: dict, name: str, order: int) -> dict:
        product = {
            "organization": organization,
            "productId": self.uuid(),
            "name": self.texts.name(name),
            "description": self.texts.optional(
                f"Feature flags of {name}" if self.chance(0.7) else None,
                field="product description",
                max_length=1000,
            ),
            "order": order,
            "reasonRequired": self.chance(0.3),
            "approveRequired": self.chance(0.2),
        }
        self.account.products.append(product)
        self.account.products_by_id[product["productId"]] = product
        return product

    def _fill_product(self, product: dict, users: list[dict]) -> None:
        account = self.account
        product_id = product["productId"]
        environments = [
            self._environment(product, order)
            for order in range(self.rng.randint(*self.sizes.environments))
        ]
        account.environments[product_id] = environments
        account.tags[product_id] = [self._tag(product, i) for i in range(self.sizes.tags)]
        account.segments[product_id] = [
            self._segment(product, users, i) for i in range(self.sizes.segments)
        ]
        account.permission_groups[product_id] = [
            self._permission_group(product, environments, kind)
            for kind in range(self.rng.randint(*self.sizes.permission_groups))
        ]
        configs = []
        for order in range(self.rng.randint(*self.sizes.configs)):
            # Every product has a v1 config (first) and a v2 config (second).
            version = ("v1", "v2")[order] if order < 2 else self.rng.choice(["v1", "v2"])
            configs.append(self._config(product, order, version))
        if self.chance(0.5):
            configs[0]["migratedConfigId"] = configs[1]["configId"]
        account.configs[product_id] = configs
        for index, config in enumerate(configs):
            self._fill_config(config, index, environments, users)
        self._count_segment_usage(product_id)
        account.webhooks[product_id] = [
            self._webhook(product, configs, environments, i) for i in range(self.sizes.webhooks)
        ]
        account.integrations[product_id] = [
            self._integration(product, configs, environments, i)
            for i in range(self.sizes.integrations)
        ]

    def _environment(self, product: dict, order: int) -> dict:
        name, color = ENVIRONMENTS[order]
        environment = {
            "product": product,
            "environmentId": self.uuid(),
            "name": name,
            "color": color,
            "description": self.texts.optional(
                f"{name} of {product['name']}" if self.chance(0.5) else None,
                field="environment description",
                max_length=1000,
            ),
            "order": order,
            "reasonRequired": order == 0 and self.chance(0.5),
            "approveRequired": order == 0 and product["approveRequired"],
        }
        self.account.environments_by_id[environment["environmentId"]] = environment
        return environment

    def _tag(self, product: dict, index: int) -> dict:
        name, color = TAG_NAMES[index % len(TAG_NAMES)]
        tag = {"product": product, "tagId": self.next_tag_id, "name": name, "color": color}
        self.next_tag_id += 1
        return tag

    def _segment(self, product: dict, users: list[dict], index: int) -> dict:
        creator = self.rng.choice(users)
        updater = self.rng.choice([creator, *users])
        created = self.days_ago(100, 400)
        named_creator = self.chance(0.8)
        return {
            "product": product,
            "segmentId": self.uuid(),
            "name": ["Beta users", "Internal staff", "EU customers", "Premium plan"][index % 4],
            "description": self.texts.optional(
                "Users who opted in" if self.chance(0.5) else None,
                field="segment description",
                max_length=1000,
            ),
            "creatorEmail": creator["email"] if named_creator else None,
            "creatorFullName": creator["fullName"] if named_creator else None,
            "createdAt": self.precise(created),
            "lastUpdaterEmail": updater["email"],
            "lastUpdaterFullName": updater["fullName"],
            "updatedAt": self.precise(created + timedelta(days=self.rng.randrange(0, 90))),
            "usage": 0,
        }

    def _permission_group(self, product: dict, environments: list[dict], kind: int) -> dict:
        name, access, new_access, approval, new_approval = [
            ("Administrators", "full", "full", "canBypassApproval", "canBypassApproval"),
            ("Read-only", "readOnly", "readOnly", "cannotApprove", "cannotApprove"),
            ("Developers", "custom", "full", "custom", "cannotApprove"),
        ][kind]
        permission_names = [
            "canManageMembers",
            "canCreateOrUpdateConfig",
            "canDeleteConfig",
            "canCreateOrUpdateEnvironment",
            "canDeleteEnvironment",
            "canCreateOrUpdateSetting",
            "canTagSetting",
            "canDeleteSetting",
            "canCreateOrUpdateTag",
            "canDeleteTag",
            "canManageWebhook",
            "canUseExportImport",
            "canManageProductPreferences",
            "canManageIntegrations",
            "canViewSdkKey",
            "canRotateSdkKey",
            "canCreateOrUpdateSegments",
            "canDeleteSegments",
            "canViewProductAuditLog",
            "canViewProductStatistics",
            "canDisable2FA",
        ]
        group: dict[str, Any] = {"permissionGroupId": self.next_permission_group_id, "name": name}
        self.next_permission_group_id += 1
        for permission in permission_names:
            group[permission] = {"full": True, "readOnly": False}.get(access, self.chance(0.5))
        production = environments[0]["environmentId"]

        def environment_access(environment_id: str) -> str:
            if access == "custom":
                return "readOnly" if environment_id == production else "full"
            return access

        def environment_approval(environment_id: str) -> str:
            if approval == "custom":
                return "canApproveOthers" if environment_id == production else "cannotApprove"
            return approval

        group |= {
            "accessType": access,
            "newEnvironmentAccessType": new_access,
            "environmentAccesses": [
                {
                    "environmentId": e["environmentId"],
                    "name": e["name"],
                    "color": e["color"],
                    "description": e["description"],
                    "order": e["order"],
                    "reasonRequired": e["reasonRequired"],
                    "approveRequired": e["approveRequired"],
                    "environmentAccessType": environment_access(e["environmentId"]),
                }
                for e in environments
            ],
            "product": product,
            "approvalPermissionType": approval,
            "newEnvironmentApprovalPermissionType": new_approval,
            "environmentApprovalPermissions": [
                {
                    "environmentId": e["environmentId"],
                    "environmentApprovalPermissionType": environment_approval(e["environmentId"]),
                }
                for e in environments
            ],
        }
        return group

    def _config(self, product: dict, order: int, version: str) -> dict:
        name = CONFIG_NAMES[order % len(CONFIG_NAMES)]
        config = {
            "product": product,
            "configId": self.uuid(),
            "name": name,
            "description": self.texts.optional(
                f"{name} of {product['name']}" if self.chance(0.5) else None,
                field="config description",
                max_length=1000,
            ),
            "order": order,
            "migratedConfigId": None,
            "evaluationVersion": version,
        }
        self.account.configs_by_id[config["configId"]] = config
        return config

    # -- settings and their values ------------------------------------------------------------

    def _fill_config(
        self, config: dict, config_index: int, environments: list[dict], users: list[dict]
    ) -> None:
        account = self.account
        tags = account.tags[config["product"]["productId"]]
        keys = self._flag_keys(self.rng.randint(*self.sizes.flags))
        flags = []
        for index, key in enumerate(keys):
            setting_type = SETTING_TYPES[index % 4]
            is_json = setting_type == "string" and config_index == 0 and index % 8 == 1
            has_variations = config["evaluationVersion"] == "v2" and index % 8 in (1, 6)
            attached = self.rng.sample(tags, self.rng.choice([0, 0, 1, 2]))
            setting = {
                "settingId": self.next_setting_id,
                "key": key,
                "name": self.texts.name(self._flag_name(key)),
                "hint": self.texts.optional(
                    f"Controls {self._flag_name(key).lower()}" if self.chance(0.6) else None,
                    field="setting hint",
                    max_length=1000,
                ),
                "order": index,
                "settingType": setting_type,
                "isJson": is_json,
                "configId": config["configId"],
                "configName": config["name"],
                "createdAt": self.precise(self.days_ago(200, 400)),
                "tags": attached,
                "predefinedVariations": (
                    self._predefined_variations(setting_type) if has_variations else []
                ),
            }
            self.next_setting_id += 1
            if self.chance(0.3):
                account.watched_setting_ids.add(setting["settingId"])
            # The first two flags of a config are in its code (so a reference report covers
            # several flags), the third is in none, the rest are drawn.
            referenced = self.chance(0.4)
            if index < 2 or (referenced and index != 2):
                account.code_referenced_setting_ids.add(setting["settingId"])
            setting_tags = [
                {
                    "settingTagId": self._next_setting_tag_id(),
                    "tagId": tag["tagId"],
                    "name": tag["name"],
                    "color": tag["color"],
                }
                for tag in attached
            ]
            flags.append(
                _Flag(
                    setting=setting,
                    index=index,
                    creator=self.rng.choice(users) if self.chance(0.9) else None,
                    integration_links=self._integration_links(),
                    setting_tags=setting_tags,
                )
            )
        account.settings[config["configId"]] = [flag.setting for flag in flags]
        for environment in environments:
            if config["evaluationVersion"] == "v1":
                values = [self._v1_value(config, environment, flag, users) for flag in flags]
            else:
                values = [self._v2_formula(config, flag, users) for flag in flags]
                self._link_prerequisites(values)
            account.setting_values[(config["configId"], environment["environmentId"])] = values
            account.sdk_keys[(config["configId"], environment["environmentId"])] = {
                "primary": self._sdk_key(),
                "secondary": self._sdk_key() if self.chance(0.3) else None,
            }

    def _next_setting_tag_id(self) -> int:
        self.next_setting_tag_id += 1
        return self.next_setting_tag_id - 1

    def _flag_keys(self, count: int) -> list[str]:
        keys: list[str] = []
        while len(keys) < count:
            key = self.rng.choice(FLAG_VERBS) + self.rng.choice(FLAG_NOUNS)
            if key in keys:
                key += str(len(keys))
            keys.append(key)
        return keys

    @staticmethod
    def _flag_name(key: str) -> str:
        words, word = [], ""
        for char in key:
            if char.isupper() and word:
                words.append(word)
                word = ""
            word += char
        words.append(word)
        return " ".join(words).capitalize()

    def _predefined_variations(self, setting_type: str) -> list[dict]:
        if setting_type == "string":
            raw_values: list[Any] = self.rng.sample(STRING_VALUES, 3)
        else:
            raw_values = self.rng.sample(range(1, 100), 2)
        return [
            {
                "value": self._typed_value(setting_type, raw, include_variation=False),
                "name": str(raw).capitalize(),
                "hint": self.texts.optional(
                    f"Use {raw}" if self.chance(0.5) else None,
                    field="variation hint",
                    max_length=1000,
                ),
                "predefinedVariationId": self.uuid(),
            }
            for raw in raw_values
        ]

    def _integration_links(self) -> list[dict]:
        if not self.chance(0.25):
            return []
        number = self.rng.randrange(100, 999)
        return [
            {
                "key": f"CFG-{number}",
                "description": self.texts.note(
                    f"Roll out ticket CFG-{number}",
                    field="integration link description",
                    max_length=1000,
                ),
                "integrationLinkType": "jira",
                "url": f"https://example.atlassian.net/browse/CFG-{number}",
            }
        ]

    def _raw_value(self, setting: dict) -> Any:
        setting_type = setting["settingType"]
        if setting_type == "boolean":
            return self.chance(0.5)
        if setting_type == "string":
            if setting["isJson"]:
                return json.dumps({"theme": self.rng.choice(STRING_VALUES), "limit": 10})
            return self.rng.choice(STRING_VALUES)
        if setting_type == "int":
            return self.rng.randrange(0, 500)
        return round(self.rng.uniform(0, 100), 2)

    @staticmethod
    def _typed_value(setting_type: str, raw: Any, *, include_variation: bool = True) -> dict:
        value = {
            "boolValue": raw if setting_type == "boolean" else None,
            "stringValue": raw if setting_type == "string" else None,
            "intValue": raw if setting_type == "int" else None,
            "doubleValue": raw if setting_type == "double" else None,
        }
        if include_variation:
            value["predefinedVariationId"] = None
        return value

    def _value_model(self, setting: dict) -> dict:
        """A v2 ValueModel; settings with predefined variations can only take one of those."""
        if setting["predefinedVariations"]:
            variation = self.rng.choice(setting["predefinedVariations"])
            return variation["value"] | {
                "predefinedVariationId": variation["predefinedVariationId"]
            }
        return self._typed_value(setting["settingType"], self._raw_value(setting))

    def _last_update(self, users: list[dict]) -> dict:
        updater = self.rng.choice(users) if self.chance(0.9) else None
        return {
            "updatedAt": self.precise(self.days_ago(1, 180)),
            "lastUpdaterUserEmail": updater["email"] if updater else None,
            "lastUpdaterUserFullName": updater["fullName"] if updater else None,
        }

    def _setting_data(self, flag: _Flag, version: str) -> dict:
        setting, creator = flag.setting, flag.creator
        data = {
            "settingId": setting["settingId"],
            "key": setting["key"],
            "name": setting["name"],
            "hint": setting["hint"],
            "settingType": setting["settingType"],
            "isJson": setting["isJson"],
            "order": setting["order"],
            "createdAt": setting["createdAt"],
            "creatorEmail": creator["email"] if creator else None,
            "creatorFullName": creator["fullName"] if creator else None,
        }
        if version == "v2":
            data["predefinedVariations"] = setting["predefinedVariations"]
        data["isWatching"] = setting["settingId"] in self.account.watched_setting_ids
        return data

    def _v1_value(self, config: dict, environment: dict, flag: _Flag, users: list[dict]) -> dict:
        setting = flag.setting
        segments = self.account.segments[config["product"]["productId"]]
        rules = []
        # Fixed positions guarantee that every v1 config shows a user rule, a segment rule and
        # percentage items; random extras on top.
        if flag.index % 4 == 1 or self.chance(0.2):
            attribute, comparator, comparison = self.rng.choice(V1_USER_RULES)
            rules.append(
                {
                    "comparisonAttribute": attribute,
                    "comparator": comparator,
                    "comparisonValue": comparison,
                    "value": self._raw_value(setting),
                    "segmentComparator": None,
                    "segmentId": None,
                }
            )
        if flag.index % 4 == 2 or self.chance(0.1):
            rules.append(
                {
                    "comparisonAttribute": None,
                    "comparator": None,
                    "comparisonValue": None,
                    "value": self._raw_value(setting),
                    "segmentComparator": self.rng.choice(["isIn", "isNotIn"]),
                    "segmentId": self.rng.choice(segments)["segmentId"],
                }
            )
        percentage_items = []
        if setting["settingType"] == "boolean" and (environment["order"] == 0 or self.chance(0.5)):
            share = self.rng.randrange(5, 95, 5)
            percentage_items = [
                {"percentage": share, "value": True},
                {"percentage": 100 - share, "value": False},
            ]
        return {
            "setting": self._setting_data(flag, "v1"),
            **self._last_update(users),
            "integrationLinks": flag.integration_links,
            "settingTags": flag.setting_tags,
            "rolloutRules": rules,
            "rolloutPercentageItems": percentage_items,
            "value": self._raw_value(setting),
        }

    def _user_condition(self) -> dict:
        attribute, comparator, comparison = self.rng.choice(V2_USER_CONDITIONS)
        if isinstance(comparison, list):
            comparison_value = {
                "stringValue": None,
                "doubleValue": None,
                "listValue": [
                    {
                        "value": value,
                        "hint": self.texts.optional("pilot" if self.chance(0.3) else None),
                    }
                    for value in comparison
                ],
            }
        elif isinstance(comparison, str):
            comparison_value = {"stringValue": comparison, "doubleValue": None, "listValue": None}
        else:
            comparison_value = {"stringValue": None, "doubleValue": comparison, "listValue": None}
        return {
            "userCondition": {
                "comparisonAttribute": attribute,
                "comparator": comparator,
                "comparisonValue": comparison_value,
            },
            "segmentCondition": None,
            "prerequisiteFlagCondition": None,
        }

    def _percentage_options(self, setting: dict) -> list[dict]:
        share = self.rng.randrange(10, 90, 10)
        return [
            {"percentage": share, "value": self._value_model(setting)},
            {"percentage": 100 - share, "value": self._value_model(setting)},
        ]

    def _v2_formula(self, config: dict, flag: _Flag, users: list[dict]) -> dict:
        setting = flag.setting
        segments = self.account.segments[config["product"]["productId"]]
        prerequisite = self.account.settings[config["configId"]][0]
        no_condition = {
            "userCondition": None,
            "segmentCondition": None,
            "prerequisiteFlagCondition": None,
        }
        rules = []
        # As in v1, fixed positions guarantee that every v2 config shows each condition kind and
        # percentage options; random extras on top.
        if flag.index % 4 == 0 or self.chance(0.2):
            rules.append(
                {
                    "conditions": [self._user_condition()],
                    "percentageOptions": [],
                    "value": self._value_model(setting),
                }
            )
        if flag.index % 4 == 1:
            segment = {"segmentId": self.rng.choice(segments)["segmentId"], "comparator": "isIn"}
            rules.append(
                {
                    "conditions": [no_condition | {"segmentCondition": segment}],
                    "percentageOptions": [],
                    "value": self._value_model(setting),
                }
            )
        if flag.index % 4 == 2:
            condition = {
                "prerequisiteSettingId": prerequisite["settingId"],
                "comparator": self.rng.choice(["equals", "doesNotEqual"]),
                "prerequisiteComparisonValue": self._typed_value("boolean", True),
            }
            rules.append(
                {
                    "conditions": [no_condition | {"prerequisiteFlagCondition": condition}],
                    "percentageOptions": [],
                    "value": self._value_model(setting),
                }
            )
        percentage_attribute = None
        if flag.index % 4 == 3:
            rules.append(
                {
                    "conditions": [self._user_condition()],
                    "percentageOptions": self._percentage_options(setting),
                    "value": None,
                }
            )
            # Percentage options without a condition: ConfigCat's "everyone else" split.
            rules.append(
                {
                    "conditions": [],
                    "percentageOptions": self._percentage_options(setting),
                    "value": None,
                }
            )
            percentage_attribute = self.rng.choice([None, "Email", "Country"])
        last_update = self._last_update(users)
        return {
            "lastVersionId": self.uuid(),
            "defaultValue": self._value_model(setting),
            "targetingRules": rules,
            "setting": self._setting_data(flag, "v2"),
            "updatedAt": last_update["updatedAt"],
            "percentageEvaluationAttribute": percentage_attribute,
            "lastUpdaterUserEmail": last_update["lastUpdaterUserEmail"],
            "lastUpdaterUserFullName": last_update["lastUpdaterUserFullName"],
            "integrationLinks": flag.integration_links,
            "settingTags": flag.setting_tags,
            "settingIdsWherePrerequisite": [],
            "changeRequestCount": 1 if self.chance(0.1) else 0,
        }

    @staticmethod
    def _link_prerequisites(formulas: list[dict]) -> None:
        by_id = {formula["setting"]["settingId"]: formula for formula in formulas}
        for formula in formulas:
            for rule in formula["targetingRules"]:
                for condition in rule["conditions"]:
                    if condition["prerequisiteFlagCondition"]:
                        target = condition["prerequisiteFlagCondition"]["prerequisiteSettingId"]
                        by_id[target]["settingIdsWherePrerequisite"].append(
                            formula["setting"]["settingId"]
                        )

    def _count_segment_usage(self, product_id: str) -> None:
        users_of: dict[str, set[int]] = {}
        for config in self.account.configs[product_id]:
            for environment in self.account.environments[product_id]:
                key = (config["configId"], environment["environmentId"])
                for value in self.account.setting_values[key]:
                    setting_id = value["setting"]["settingId"]
                    for rule in value.get("rolloutRules", []):
                        if rule["segmentId"]:
                            users_of.setdefault(rule["segmentId"], set()).add(setting_id)
                    for rule in value.get("targetingRules", []):
                        for condition in rule["conditions"]:
                            if condition["segmentCondition"]:
                                segment_id = condition["segmentCondition"]["segmentId"]
                                users_of.setdefault(segment_id, set()).add(setting_id)
        for segment in self.account.segments[product_id]:
            segment["usage"] = len(users_of.get(segment["segmentId"], ()))

    # -- secrets and hooks --------------------------------------------------------------------

    def _sdk_key(self) -> str:
        return f"configcat-sdk-1/{SECRET_MARKER}{self.token(13)}/{self.token(22)}"

    def _webhook(self, product: dict, configs: list, environments: list, index: int) -> dict:
        webhook_id = self.next_webhook_id
        self.next_webhook_id += 1
        config = self.rng.choice(configs)
        environment = self.rng.choice(environments)
        method = "post" if index % 2 == 0 else "get"
        headers = [{"key": "X-Source", "value": "configcat", "isSecure": False}]
        if index == 0:
            headers.insert(
                0, {"key": "Content-Type", "value": "application/json", "isSecure": False}
            )
            headers.append(
                {
                    "key": "Authorization",
                    "value": f"Bearer {SECRET_MARKER}-{self.token(24)}",
                    "isSecure": True,
                }
            )
        webhook = {
            "webhookId": webhook_id,
            "url": f"https://hooks.example.com/configcat/{webhook_id}",
            "httpMethod": method,
            "content": (
                '{"text":"##ConfigName## changed in ##EnvironmentName##"}'
                if method == "post"
                else None
            ),
            "webHookHeaders": headers,
            "config": {"name": config["name"], "configId": config["configId"]},
            "environment": {
                "name": environment["name"],
                "environmentId": environment["environmentId"],
            },
        }
        self.account.webhook_signing_keys[webhook_id] = {
            "key1": f"configcat_whsk_{SECRET_MARKER}_{self.token(32)}",
            "key2": f"configcat_whsk_{SECRET_MARKER}_{self.token(32)}" if webhook_id % 2 else None,
        }
        return webhook

    def _integration(self, product: dict, configs: list, environments: list, index: int) -> dict:
        integration_type = INTEGRATION_TYPES[
            (product["order"] * 2 + index) % len(INTEGRATION_TYPES)
        ]

        def secret(prefix: str) -> str:
            return f"{prefix}-{SECRET_MARKER}-{self.token(24)}"

        parameters = {
            "dataDog": lambda: {"apikey": secret("dd")},
            "slack": lambda: {
                "incoming_webhook.url": f"https://hooks.slack.com/services/{secret('T0')}"
            },
            "amplitude": lambda: {"apiKey": secret("amp"), "secretKey": secret("amp")},
            "mixPanel": lambda: {"serviceAccountSecret": secret("mp")},
            "segment": lambda: {"writeKey": secret("seg")},
            "pubNub": lambda: {"pubKey": secret("pub-c"), "subKey": secret("sub-c")},
        }[integration_type]()
        some_environments = self.rng.sample(environments, self.rng.randint(1, len(environments)))
        return {
            "product": product,
            "integrationId": self.uuid(),
            "name": f"{integration_type} for {product['name']}",
            "integrationType": integration_type,
            "parameters": parameters,
            # Empty means "all", as in ConfigCat.
            "environmentIds": (
                [] if index == 0 else [e["environmentId"] for e in some_environments]
            ),
            "configIds": [] if index == 0 else [configs[0]["configId"]],
        }

    # -- people -------------------------------------------------------------------------------

    def _organization_people(self, organization: dict, users: list, products: list) -> None:
        account = self.account
        organization_id = organization["organizationId"]
        admin_count = self.rng.randint(1, 2)
        admins, billing_managers = users[:admin_count], [users[-1]]
        # The first admin is also a product member, as an admin who works on a product is.
        members = [users[0], *users[admin_count:-1]]
        permissions: dict[str, list[dict]] = {user["userId"]: [] for user in members}
        for product in products:
            product_id = product["productId"]
            groups = account.permission_groups[product_id]
            joined = [members[0], *self.rng.sample(members[1:], max(1, len(members[1:]) // 2))]
            account.product_members[product_id] = []
            for user in joined:
                group = self.rng.choice(groups)
                account.product_members[product_id].append(
                    {
                        "userId": user["userId"],
                        "productId": product_id,
                        "permissionGroupId": group["permissionGroupId"],
                        "fullName": user["fullName"],
                        "email": user["email"],
                    }
                )
                permissions[user["userId"]].append(
                    {
                        "product": {"productId": product_id, "name": product["name"]},
                        "permissionGroup": {
                            "permissionGroupId": group["permissionGroupId"],
                            "name": group["name"],
                        },
                    }
                )
            account.product_invitations[product_id] = [
                self._invitation(product, groups) for _ in range(self.sizes.invitations)
            ]
        listed = {
            "admins": [self._admin(user) for user in admins],
            "billingManagers": [self._admin(user) for user in billing_managers],
            "members": [
                self._admin(user) | {"permissions": permissions[user["userId"]]}
                for user in members
                if permissions[user["userId"]]
            ],
        }
        account.organization_members[organization_id] = listed
        people = {user["userId"]: user for group in listed.values() for user in group}
        account.organization_users[organization_id] = [
            self._admin(user) for user in people.values()
        ]
        account.organization_invitations[organization_id] = [
            {
                "invitationId": invitation["invitationId"],
                "email": invitation["email"],
                "productId": product["productId"],
                "productName": product["name"],
                "permissionGroupId": invitation["permissionGroupId"],
                "createdAt": invitation["createdAt"],
                "expired": invitation["expired"],
                "expires": UtcDateTime.from_ticks(
                    invitation["createdAt"].ticks + ticks_of(INVITATION_LIFETIME)
                ),
            }
            for product in products
            for invitation in account.product_invitations[product["productId"]]
        ]

    @staticmethod
    def _admin(user: dict) -> dict:
        return {key: user[key] for key in ("userId", "fullName", "email", "twoFactorEnabled")}

    def _invitation(self, product: dict, groups: list) -> dict:
        created = self.precise(self.days_ago(1, 40))
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        return {
            "invitationId": self.uuid(),
            "email": f"{first}.{last}@invited.example.org".lower(),
            "permissionGroupId": self.rng.choice(groups)["permissionGroupId"],
            "createdAt": created,
            "expired": created.ticks + ticks_of(INVITATION_LIFETIME)
            <= UtcDateTime(BASE_DATE).ticks,
        }

    # -- audit log ----------------------------------------------------------------------------

    def _audit_moments(self) -> list[UtcDateTime]:
        """Moments in the 120 days before the base date, oldest first.

        Some fall exactly on midnight and some are shared by several events (a bulk change),
        so tests can probe inclusive/exclusive window edges and stable ordering on ties.
        """
        total = self.sizes.audit_events_per_organization
        moments = []
        while len(moments) < total:
            roll = self.rng.random()
            if roll < 0.05:
                moment = UtcDateTime(BASE_DATE - timedelta(days=self.rng.randrange(1, 120)))
            else:
                moment = self.precise(self.days_ago(0, 120))
            repeat = self.rng.randint(2, 4) if roll > 0.95 else 1
            moments += [moment] * min(repeat, total - len(moments))
        return sorted(moments)

    def _audit_log(self, organization: dict) -> None:
        account = self.account
        organization_id = organization["organizationId"]
        products = [p for p in account.products if p["organization"] is organization]
        users = self.users[organization_id]
        kinds = [kind for kind, _ in AUDIT_WEIGHTS]
        weights = [weight for _, weight in AUDIT_WEIGHTS]
        for moment in self._audit_moments():
            kind = self.rng.choices(kinds, weights)[0]
            product = self.rng.choice(products)
            product_id = product["productId"]
            config = self.rng.choice(account.configs[product_id])
            environment = self.rng.choice(account.environments[product_id])
            setting = self.rng.choice(account.settings[config["configId"]])
            scope: dict[str, str | None] = {
                "productId": product_id,
                "configId": None,
                "environmentId": None,
            }
            where = product["name"]
            target = product["name"]
            details: dict[str, Any] = {"productId": product_id}
            if kind in ("settingValueChanged", "webHookChanged"):
                scope |= {
                    "configId": config["configId"],
                    "environmentId": environment["environmentId"],
                }
                where = f"{product['name']} / {config['name']} / {environment['name']}"
                target = setting["key"]
                details = {"settingKey": setting["key"], "environment": environment["name"]}
            elif kind.startswith("setting") or kind in ("configChanged", "changeRequestCreated"):
                scope["configId"] = config["configId"]
                where = f"{product['name']} / {config['name']}"
                target = setting["key"] if kind != "configChanged" else config["name"]
                details = {"configId": config["configId"], "settingKey": setting["key"]}
            elif kind == "environmentChanged":
                scope["environmentId"] = environment["environmentId"]
                where = f"{product['name']} / {environment['name']}"
                target = environment["name"]
            elif kind == "organizationChanged":
                scope["productId"] = None
                where = target = organization["name"]
                details = {"organizationId": organization_id}
            user = self.rng.choice(users)
            item = account._new_audit_item(
                at=moment,
                audit_type=kind,
                user=user,
                where=where,
                action_target=target,
                details=details,
                why=self.texts.optional(
                    self.rng.choice([None, None, "Release 4.2", "Customer request"]),
                    probability=0.5,
                    field="audit why",
                    max_length=1000,
                ),
            )
            if self.chance(0.05):
                item["userEmail"] = None
            account.audit_logs[organization_id].append(item)
            account.audit_log_scopes[item["auditLogId"]] = scope
