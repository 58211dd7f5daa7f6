"""The seeded governance data: change requests, deleted flags, code references, product
preferences, Proxy Profiles and organization limitations (`GovernanceBuilder`).

`seed` calls it once the rest of the account is built. It draws from a generator of its own,
`random.Random(f"{seed}:governance")`, so every id, name, value and date that `seed` draws is
the same as before these endpoints were served. What it adds agrees with that data:

* change requests change v2 configs only (their formulas are v2 evaluation formulas). An applied
  one is the last change of its flag in its environment: it was applied when the value was last
  updated, by the value's last updater, and it proposed the value served now; an older applied one
  on the same flag proposed what the newer one started from. An open one started from the value
  served now, unless that value was updated after the request was created: then the flag is in
  conflict and the request needs attention. Open requests are placed first on the formulas whose
  `changeRequestCount` is not 0;
* deleted flags never reuse a key of a live flag of their config;
* only flags in `code_referenced_setting_ids` (what stale flags call `hasCodeReferences`) have code
  references. A reference report is one upload for a config, a repository and a branch, covering
  many flags: its `codeReferenceId` comes back under each of them. One scan (repository, branch)
  has one commit and upload time for all its flags;
* preferences repeat the product's and its environments' reasonRequired / approveRequired;
* a Proxy Profile's SDK keys are the SDK keys of the pairs its rules select.

The document's ChangeRequestActivityType has no approved, applied or closed: approvals are in
`approvals`, applying and closing in the applied* and closed* fields; activities record creation,
reason and schedule changes, updates of the proposed changes (which dismiss approvals given
before), bypassed approval, resolved conflicts and failed applies.

Date-times are `UtcDateTime`s in the mix of precisions that `seed` uses.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .account import BASE_DATE, SECRET_MARKER, Account
from .datetimes import TICKS_PER_SECOND, UtcDateTime, ticks_of
from .scales import Scale
from .texts import TypedText

MINUTE = ticks_of(timedelta(minutes=1))
HOUR = ticks_of(timedelta(hours=1))
DAY = ticks_of(timedelta(days=1))
BASE_TICKS = UtcDateTime(BASE_DATE).ticks

# The first id of each kind; later ones follow in the order of their dates, account-wide.
FIRST_IDS = {
    "changeRequestId": 2001,
    "changeRequestCommentId": 7001,
    "changeRequestApprovalId": 5001,
    "changeRequestActivityId": 30001,
    "changeRequestIssueId": 801,
}

# How often someone approves a change request where the environment does not require it.
VOLUNTARY_REVIEW = 0.3
REASONS = [
    "Release 4.3",
    "Customer request",
    "Requested by support (ticket CS-2291)",
    "A/B test results are in",
    "Rollback after error rate alert",
    "Marketing campaign starts Monday",
]
COMMENTS = [
    "Looks good to me.",
    "Can we wait until after the release freeze?",
    "Verified on Staging.",
    "We roll back if error rates go up.",
    "Updated the targeting as discussed.",
    "Is support aware of this change?",
]
# Only on a change request without a reason.
REASON_COMMENT = "Please add a reason before this goes out."
STRING_VALUES = ["red", "green", "blue", "variant-a", "variant-b", "control", "holdout"]
# (comparisonAttribute, UserComparator, ComparisonValueModel)
USER_CONDITIONS = [
    ("Email", "containsAnyOf", {"stringValue": None, "doubleValue": None, "listValue": "emails"}),
    ("Country", "isOneOf", {"stringValue": None, "doubleValue": None, "listValue": "countries"}),
    ("AppVersion", "semVerGreaterOrEquals", {"stringValue": "4.3.0", "doubleValue": None}),
    ("Plan", "textEquals", {"stringValue": "enterprise", "doubleValue": None}),
    ("Age", "numberGreaterOrEquals", {"stringValue": None, "doubleValue": 21.0}),
]
LIST_VALUES = {
    "emails": ["@example.com", "@beta.example.com"],
    "countries": ["NL", "HU", "DE", "AT"],
}
KEY_GENERATION_MODES = ["camelCase", "lowerCase", "upperCase", "pascalCase", "kebabCase"]
DELETED_FLAG_VERBS = ["enable", "show", "use", "allow"]
DELETED_FLAG_NOUNS = [
    "LegacyCheckout",
    "HolidayBanner",
    "OldSearch",
    "SummerSale",
    "ClassicLayout",
    "BetaPricing",
    "V1Api",
    "MaintenanceMode",
    "BlackFriday2025",
    "SurveyPopup",
]
REPOSITORY_KINDS = ["web", "api", "service", "ios", "android"]
BRANCHES = ["main", "develop", "release/4.3", "release/4.2"]
UPLOADERS = ["ConfigCat CLI", "GitHub Action", "GitLab CI", "Bitbucket Pipe", None]
PROXY_PROFILES = [
    ("Production proxy", "Serves every Production environment"),
    ("Staging proxy", None),
    ("EU edge proxy", "Frankfurt and Amsterdam edge nodes"),
    ("Mobile backend proxy", None),
    ("US edge proxy", "Virginia edge nodes"),
]


@dataclass
class _Chain:
    """Where the history of a flag's value in an environment stands, walking back in time."""

    formula: dict  # the value as it was from `since` on (AuditLogSettingValueV2EvaluationFormula)
    since: int  # ticks
    by: dict | None  # who made it so, when known
    first: bool = True  # `since` is the value's updatedAt


@dataclass
class _Target:
    """A flag in an environment, as a change request changes it."""

    config: dict
    environment: dict
    index: int  # in the config's settings and values

    def key(self) -> tuple[str, str, int]:
        return (self.config["configId"], self.environment["environmentId"], self.index)


class GovernanceBuilder:
    """Adds the governance data to an account that `seed` has filled (`build()`)."""

    def __init__(self, account: Account, sizes: Scale, users: dict[str, list[dict]]) -> None:
        self.rng = random.Random(f"{account.seed}:governance")
        # Free text as users type it (see `texts`).
        self.texts = TypedText(account.seed, "governance")
        self.account = account
        self.sizes = sizes
        # organizationId -> everyone in that organization's data (seed's `_Builder.users`)
        self.users = users
        self.chains: dict[tuple[str, str, int], _Chain] = {}

    # -- small helpers ------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, length: int, alphabet: str = "") -> str:
        alphabet = alphabet or "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def stamp(self, low: int, high: int) -> UtcDateTime:
        """A moment strictly between two tick counts, in seed's mix of precisions: mostly full
        ticks, some milliseconds only, some whole seconds (never rounded down to `low`)."""
        ticks = self.rng.randrange(low + 1, high) if high > low + 1 else low + 1
        roll = self.rng.random()
        rounded = ticks
        if roll < 0.15:
            rounded = ticks - ticks % TICKS_PER_SECOND
        elif roll < 0.35:
            rounded = ticks - ticks % 10_000
        return UtcDateTime.from_ticks(rounded if rounded > low else ticks)

    @staticmethod
    def person(user: dict) -> dict:
        return {"userId": user["userId"], "fullName": user["fullName"], "email": user["email"]}

    # -- the account --------------------------------------------------------------------------

    def build(self) -> None:
        account = self.account
        for organization in account.organizations:
            organization_id = organization["organizationId"]
            self._limitations(organization_id)
            products = [p for p in account.products if p["organization"] is organization]
            self._sdk_ids(products)
            account.proxy_profiles[organization_id] = [
                self._proxy_profile(products, index) for index in range(self.sizes.proxy_profiles)
            ]
            for profile in account.proxy_profiles[organization_id]:
                account.proxy_profiles_by_id[profile["proxyProfileId"]] = profile
        drafts = []
        for product in account.products:
            product_id = product["productId"]
            account.preferences[product_id] = self._preferences(product)
            for order, config in enumerate(account.configs[product_id]):
                account.deleted_settings[config["configId"]] = self._deleted_flags(config, order)
            self._code_references(product)
            drafts += self._change_requests(product)
        self._number(drafts)

    # -- organizations ------------------------------------------------------------------------

    def _limitations(self, organization_id: str) -> None:
        limits = self.account.feature_flag_limitations[organization_id]
        paid = limits["maxPercentageOptionCount"] == 100
        self.account.organization_limitations[organization_id] = {
            **limits,
            "maxPredefinedVariations": 50 if paid else 10,
        }

    def _sdk_ids(self, products: list[dict]) -> None:
        for product in products:
            for config in self.account.configs[product["productId"]]:
                for environment in self.account.environments[product["productId"]]:
                    pair = (config["configId"], environment["environmentId"])
                    self.account.sdk_ids[pair] = self.token(
                        16, "abcdefghijklmnopqrstuvwxyz0123456789"
                    )

    def _proxy_profile(self, products: list[dict], index: int) -> dict:
        name, description = PROXY_PROFILES[index % len(PROXY_PROFILES)]
        if index >= len(PROXY_PROFILES):
            name += f" {index // len(PROXY_PROFILES) + 1}"
        profile_id = self.uuid()
        # The first profile of an organization is notified by webhook, the second is not.
        notified = index == 0 or (index > 1 and self.chance(0.5))
        notification = None
        if notified:
            notification = {
                "webhookProxyUrl": f"https://proxy-{index + 1}.example.com/hook/{profile_id[:8]}",
                "signingKey1": f"configcat_pxsk_{SECRET_MARKER}_{self.token(32)}",
                "signingKey2": (
                    f"configcat_pxsk_{SECRET_MARKER}_{self.token(32)}" if self.chance(0.4) else None
                ),
            }
        never_used = index > 0 and self.chance(0.25)
        return {
            "proxyProfileId": profile_id,
            "name": name,
            "description": self.texts.optional(
                description, field="proxy profile description", max_length=1000
            ),
            "lastAccessedAt": (
                None if never_used else self.stamp(BASE_TICKS - 3 * DAY, BASE_TICKS - MINUTE)
            ),
            "connectionPreferences": {
                "sdkPollInterval": self.rng.choice([30, 60, 60, 120, 300]),
                "webhookNotification": notification,
            },
            "sdkKeySelectionRules": self._selection_rules(products, index),
        }

    def _selection_rules(self, products: list[dict], index: int) -> list[dict]:
        def rule(kind: str, **filters: str) -> dict:
            found: dict[str, Any] = {"kind": kind}
            for level in ("product", "config", "environment"):
                found[f"{level}IdFilter"] = filters.get(f"{level}Id")
            for level in ("product", "config", "environment"):
                found[f"{level}NameMatchFilter"] = filters.get(f"{level}Name")
            return found

        if index == 0:
            rules = [rule("include", productName="*", environmentName="Production")]
            if self.chance(0.5):
                rules.append(rule("exclude", configName="Backend"))
            return rules
        if index == 1:
            return [rule("include", environmentName="Stag*")]
        product = self.rng.choice(products)
        config = self.rng.choice(self.account.configs[product["productId"]])
        rules = [rule("include", productId=product["productId"])]
        if self.chance(0.5):
            rules.append(
                rule("exclude", productId=product["productId"], configId=config["configId"])
            )
        if self.chance(0.5):
            rules.append(rule("exclude", environmentName="*Test*"))
        return rules

    # -- products -----------------------------------------------------------------------------

    def _preferences(self, product: dict) -> dict:
        product_id = product["productId"]
        environments = self.account.environments[product_id]
        settings = [
            s
            for c in self.account.configs[product_id]
            for s in self.account.settings[c["configId"]]
        ]
        return {
            "reasonRequired": product["reasonRequired"],
            "keyGenerationMode": (
                "camelCase" if self.chance(0.75) else self.rng.choice(KEY_GENERATION_MODES[1:])
            ),
            "showVariationId": self.chance(0.3),
            "reasonRequiredEnvironments": [
                {
                    "environmentId": e["environmentId"],
                    "reasonRequired": e["reasonRequired"],
                    "environmentName": e["name"],
                }
                for e in environments
            ],
            # Only asked for where every flag has a hint already.
            "mandatorySettingHint": all(s["hint"] for s in settings),
            "approveRequired": product["approveRequired"],
            "approveRequiredEnvironments": [
                {
                    "environmentId": e["environmentId"],
                    "approveRequired": e["approveRequired"],
                    "environmentName": e["name"],
                }
                for e in environments
            ],
        }

    def _deleted_flags(self, config: dict, order: int) -> list[dict]:
        live = {s["key"] for s in self.account.settings[config["configId"]]}
        low, high = self.sizes.deleted_flags
        count = self.rng.randint(max(low, 1) if order == 0 else low, high)
        keys = [
            verb + noun
            for verb in DELETED_FLAG_VERBS
            for noun in DELETED_FLAG_NOUNS
            if verb + noun not in live
        ]
        deleted = []
        for key in self.rng.sample(keys, count):
            name = _words(key).capitalize()
            deleted.append(
                {
                    "key": key,
                    "name": name,
                    "hint": self.texts.optional(
                        f"Controls {name.lower()}" if self.chance(0.5) else None,
                        field="deleted flag hint",
                        max_length=1000,
                    ),
                    "settingType": self.rng.choice(
                        ["boolean", "boolean", "string", "int", "double"]
                    ),
                }
            )
        return deleted

    def _code_references(self, product: dict) -> None:
        """Reference reports as the ConfigCat CLI uploads them (CodeReferenceRequest): one for a
        config, a repository and a branch, holding the references of every flag of that config
        the scan found. `codeReferenceId` names the report, so the same id comes back under each
        flag it covers. The first repository's main branch reads every referenced flag of a
        config; other branches find some of them. One scan (repository, branch) has one commit,
        upload time and uploader for every config it reports."""
        organization = _slug(product["organization"]["name"])
        kinds = self.rng.sample(REPOSITORY_KINDS, self.rng.randint(1, 2))
        repositories = [f"{organization}/{_slug(product['name'])}-{kind}" for kind in kinds]
        scans = {}
        for repository in repositories:
            for branch in BRANCHES:
                commit = self.token(40, "0123456789abcdef")
                scans[(repository, branch)] = {
                    "repository": repository,
                    "branch": branch,
                    "commitHash": commit,
                    "commitUrl": f"https://github.com/{repository}/commit/{commit}",
                    "syncedAt": self.stamp(BASE_TICKS - 30 * DAY, BASE_TICKS - HOUR),
                    "uploader": self.rng.choice(UPLOADERS),
                }
        main, *others = scans.values()
        for config in self.account.configs[product["productId"]]:
            # This config's report of each scan.
            reports = {key: scan | {"codeReferenceId": self.uuid()} for key, scan in scans.items()}
            others_of_config = [reports[(o["repository"], o["branch"])] for o in others]
            main_report = reports[(main["repository"], main["branch"])]
            for setting in self.account.settings[config["configId"]]:
                chosen = []
                if setting["settingId"] in self.account.code_referenced_setting_ids:
                    extra = self.rng.randint(1 if setting["order"] == 0 else 0, 2)
                    chosen = [main_report, *self.rng.sample(others_of_config, extra)]
                self.account.code_references[setting["settingId"]] = [
                    {
                        "branch": report["branch"],
                        "references": self._reference_lines(setting, report["repository"], report),
                        "commitUrl": report["commitUrl"],
                        "commitHash": report["commitHash"],
                        "syncedAt": report["syncedAt"],
                        "repository": report["repository"],
                        "codeReferenceId": report["codeReferenceId"],
                        "uploader": report["uploader"],
                    }
                    for report in chosen
                ]

    def _reference_lines(self, setting: dict, repository: str, scan: dict) -> list[dict]:
        kind = repository.rsplit("-", 1)[1]
        key = setting["key"]
        module = "-".join(_words(key).split()[1:]).lower() or key.lower()
        files = _source_files(kind, module)
        found = []
        for file in self.rng.sample(files, self.rng.randint(1, len(files))):
            pre, line, post = _snippet(kind, key, setting["settingType"])
            number = self.rng.randint(len(pre) + 1, 400)
            shown_pre = pre[len(pre) - self.rng.randint(0, len(pre)) :]
            shown_post = post[: self.rng.randint(0, len(post))]
            found.append(
                {
                    "file": file,
                    "fileUrl": (
                        f"https://github.com/{repository}/blob/{scan['commitHash']}/{file}#L{number}"
                        if self.chance(0.9)
                        else None
                    ),
                    "preLines": [
                        {"lineText": text, "lineNumber": number - len(shown_pre) + offset}
                        for offset, text in enumerate(shown_pre)
                    ],
                    "postLines": [
                        {"lineText": text, "lineNumber": number + 1 + offset}
                        for offset, text in enumerate(shown_post)
                    ],
                    "referenceLine": {"lineText": line, "lineNumber": number},
                }
            )
        return found

    # -- change requests ----------------------------------------------------------------------

    def _change_requests(self, product: dict) -> list[dict]:
        account = self.account
        product_id = product["productId"]
        members = [self.person(m) for m in account.product_members[product_id]]
        configs = [c for c in account.configs[product_id] if c["evaluationVersion"] == "v2"]
        environments = account.environments[product_id]
        if product is account.products[0]:
            count = self.sizes.busy_change_requests
        else:
            count = self.rng.randint(*self.sizes.change_requests)
        # (config, environment) pairs whose formulas count change requests: open ones go there.
        pending = []
        for config in configs:
            for environment in environments:
                values = account.setting_values[(config["configId"], environment["environmentId"])]
                counted = [i for i, value in enumerate(values) if value["changeRequestCount"]]
                if counted:
                    pending.append([_Target(config, environment, i) for i in counted[:3]])
        self.rng.shuffle(pending)
        open_count = min(count - 2, max(1, round(count * self.rng.uniform(0.15, 0.35))))
        closed_count = max(1, round((count - open_count) * self.rng.uniform(0.2, 0.4)))
        statuses = ["open"] * open_count + ["closed"] * closed_count
        statuses += ["applied"] * (count - open_count - closed_count)

        targets = [
            _Target(config, environment, index)
            for config in configs
            for environment in environments
            for index in range(len(account.settings[config["configId"]]))
        ]
        self.rng.shuffle(targets)
        # Applied ones end the histories of flags last updated by someone known, first.
        targets.sort(key=lambda t: self._value(t)["lastUpdaterUserEmail"] is None)
        drafts = []
        for status in statuses:
            if status == "applied":
                target = next((t for t in targets if t.key() not in self.chains), None)
                if target is None:  # the flag with the most room before its history so far
                    target = max(targets, key=lambda t: self.chains[t.key()].since)
                drafts.append(self._applied(product, members, target))
                continue
            if status == "open" and pending:
                chosen = pending.pop()
            else:
                environment = self._environment(environments)
                config = self.rng.choice(configs)
                indexes = range(len(account.settings[config["configId"]]))
                chosen = [
                    _Target(config, environment, index)
                    for index in sorted(self.rng.sample(indexes, self.rng.randint(1, 3)))
                ]
            if status == "open":
                drafts.append(self._open(product, members, chosen))
            else:
                drafts.append(self._closed(product, members, chosen))
        return drafts

    def _environment(self, environments: list[dict]) -> dict:
        approving = [e for e in environments if e["approveRequired"]]
        if approving and self.chance(0.5):
            return self.rng.choice(approving)
        return self.rng.choice(environments)

    def _value(self, target: _Target) -> dict:
        pair = (target.config["configId"], target.environment["environmentId"])
        return self.account.setting_values[pair][target.index]

    def _setting(self, target: _Target) -> dict:
        return self.account.settings[target.config["configId"]][target.index]

    def _updater(self, value: dict, product: dict) -> dict | None:
        email = value["lastUpdaterUserEmail"]
        organization_id = product["organization"]["organizationId"]
        for user in self.users[organization_id]:
            if user["email"] == email:
                return self.person(user)
        return None

    def _chain(self, target: _Target, product: dict) -> _Chain:
        key = target.key()
        if key not in self.chains:
            value = self._value(target)
            self.chains[key] = _Chain(
                formula=self._formula(target, value),
                since=value["updatedAt"].ticks,
                by=self._updater(value, product),
            )
        return self.chains[key]

    def _applied(self, product: dict, members: list[dict], target: _Target) -> dict:
        chain = self._chain(target, product)
        if chain.first:
            applied_at = UtcDateTime.from_ticks(chain.since)
            applier = chain.by or self.rng.choice(members)
        else:
            applied_at = self.stamp(chain.since - 20 * DAY, chain.since - 10 * MINUTE)
            applier = self.rng.choice(members)
        scheduled = self.chance(0.25)
        apply_at = None
        if scheduled:
            # Applied by the scheduler within the minute that was set.
            apply_at = UtcDateTime.from_ticks(applied_at.ticks - applied_at.ticks % MINUTE)
        created = self.stamp(applied_at.ticks - 7 * DAY, applied_at.ticks - 5 * MINUTE)
        setting = self._setting(target)
        original, title = self._previous(chain.formula, target)
        change = self._proposed(target, original, chain.formula, has_conflict=False)
        chain.formula, chain.since, chain.by, chain.first = original, created.ticks, None, False

        draft = self._draft(product, members, target, created, [change], title)
        draft.update(
            changeRequestStatus="applied",
            applyAt=apply_at,
            appliedAt=applied_at,
            appliedByUserId=applier["userId"],
            appliedByUserEmail=applier["email"],
            appliedByUserFullName=applier["fullName"],
        )
        creator = draft["_creator"]
        if scheduled and self.chance(0.5):
            self._activity(
                draft,
                "applyAtChanged",
                self.stamp(created.ticks, apply_at.ticks),
                creator,
                f"Scheduled to be applied at {apply_at.wire()}.",
            )
        if self.chance(0.15):  # a conflict, resolved before applying
            detected = self.stamp(created.ticks, applied_at.ticks)
            fixed = self.stamp(detected.ticks, applied_at.ticks)
            self._issue(
                draft,
                "settingConflict",
                f"{setting['key']} was changed in {target.environment['name']} after this"
                " Change Request was created.",
                detected,
                fixed,
            )
            self._activity(
                draft,
                "conflictsResolved",
                fixed,
                creator,
                f"Resolved the conflict of {setting['key']}.",
            )
        if target.environment["approveRequired"]:
            if self.chance(0.2):
                draft["bypassApproval"] = True
                bypassed = self.stamp(created.ticks, applied_at.ticks)
                self._activity(
                    draft, "bypassApprovalEnabled", bypassed, applier, "Bypassed approval."
                )
            else:
                self._approvals(draft, members, created, applied_at.ticks, self.rng.randint(1, 2))
        elif self.chance(VOLUNTARY_REVIEW):
            self._approvals(draft, members, created, applied_at.ticks, 1)
        self._comments(draft, members, created, applied_at.ticks)
        return draft

    def _open(self, product: dict, members: list[dict], targets: list[_Target]) -> dict:
        created = self.stamp(BASE_TICKS - 30 * DAY, BASE_TICKS - HOUR)
        changes = []
        conflicts = []
        titles = []
        for target in targets:
            value = self._value(target)
            current = self._formula(target, value)
            # Changed since the request was created: the request started from an older value.
            conflict = value["updatedAt"].ticks > created.ticks
            original = self._variant(current, target, product)[0] if conflict else current
            proposed, title = self._variant(original, target, product)
            changes.append(self._proposed(target, original, proposed, has_conflict=conflict))
            titles.append(title)
            if conflict:
                conflicts.append((target, value["updatedAt"]))
        draft = self._draft(product, members, targets[0], created, changes, titles[0])
        environment = targets[0].environment
        if environment["reasonRequired"] and draft["reason"] is None:
            self._issue(
                draft,
                "reasonRequired",
                f"{environment['name']} requires a reason for every change.",
                created,
                None,
            )
        for target, updated in conflicts:
            key = self._setting(target)["key"]
            detected = self.stamp(updated.ticks, updated.ticks + MINUTE)
            self._issue(
                draft,
                "settingConflict",
                f"{key} was changed in {environment['name']} after this Change Request was"
                " created.",
                detected,
                None,
            )
            if self.chance(0.5):
                failed = self.stamp(detected.ticks, BASE_TICKS)
                self._activity(
                    draft,
                    "applyFailed",
                    failed,
                    draft["_creator"],
                    "Could not apply the Change Request.",
                    error=f"{key} has conflicting changes.",
                )
        if self.chance(0.3):
            draft["applyAt"] = UtcDateTime.from_ticks(
                BASE_TICKS + self.rng.randint(1, 14) * DAY + self.rng.randint(6, 20) * HOUR
            )
            moment = self.stamp(created.ticks, BASE_TICKS)
            self._activity(
                draft,
                "applyAtChanged",
                moment,
                draft["_creator"],
                f"Scheduled to be applied at {draft['applyAt'].wire()}.",
            )
        if environment["approveRequired"]:
            self._approvals(draft, members, created, BASE_TICKS, self.rng.randint(0, 2))
        elif self.chance(VOLUNTARY_REVIEW):
            self._approvals(draft, members, created, BASE_TICKS, 1)
        self._comments(draft, members, created, BASE_TICKS)
        return draft

    def _closed(self, product: dict, members: list[dict], targets: list[_Target]) -> dict:
        created = self.stamp(BASE_TICKS - 300 * DAY, BASE_TICKS - 2 * DAY)
        closed_at = self.stamp(created.ticks + HOUR, min(created.ticks + 20 * DAY, BASE_TICKS))
        changes = []
        titles = []
        for target in targets:
            value = self._value(target)
            current = self._formula(target, value)
            # Created before the value's last update: it started from an older value.
            if value["updatedAt"].ticks > created.ticks:
                current = self._variant(current, target, product)[0]
            proposed, title = self._variant(current, target, product)
            changes.append(self._proposed(target, current, proposed, has_conflict=False))
            titles.append(title)
        draft = self._draft(product, members, targets[0], created, changes, titles[0])
        closer = draft["_creator"] if self.chance(0.6) else self.rng.choice(members)
        draft.update(
            changeRequestStatus="closed",
            closedAt=closed_at,
            closedByUserId=closer["userId"],
            closedByUserEmail=closer["email"],
            closedByUserFullName=closer["fullName"],
        )
        if self.chance(0.25):  # scheduled, but the scheduler could not apply it
            apply_at = self.stamp(created.ticks, closed_at.ticks)
            apply_at = UtcDateTime.from_ticks(
                max(apply_at.ticks - apply_at.ticks % MINUTE, created.ticks + 1)
            )
            draft["applyAt"] = apply_at
            self._activity(
                draft,
                "scheduledApplyFailed",
                self.stamp(apply_at.ticks, min(apply_at.ticks + MINUTE, closed_at.ticks)),
                None,
                "The scheduled apply failed.",
                error="The Change Request has conflicting changes.",
            )
        if targets[0].environment["approveRequired"] or self.chance(VOLUNTARY_REVIEW):
            self._approvals(draft, members, created, closed_at.ticks, self.rng.randint(0, 1))
        self._comments(draft, members, created, closed_at.ticks)
        return draft

    def _draft(
        self,
        product: dict,
        members: list[dict],
        target: _Target,
        created: UtcDateTime,
        changes: list[dict],
        title: str,
    ) -> dict:
        """A ChangeRequestModel without ids, open, with its `created` activity."""
        creator = self.rng.choice(members)
        if len(changes) > 1:
            title = f"{title} (+{len(changes) - 1} more)"
        draft: dict[str, Any] = {
            "changeRequestId": None,
            "configId": target.config["configId"],
            "environmentId": target.environment["environmentId"],
            "changeRequestStatus": "open",
            "needsAttention": False,
            "title": self.texts.name(title, probability=0.15),
            "reason": self.texts.optional(
                self.rng.choice(REASONS) if self.chance(0.7) else None,
                field="change request reason",
                max_length=1000,
            ),
            "applyAt": None,
            "createdAt": created,
            "creatorUserEmail": creator["email"],
            "creatorUserFullName": creator["fullName"],
            "creatorUserId": creator["userId"],
            "settingValues": changes,
            "comments": [],
            "approved": False,
            "approvals": [],
            "activities": [],
            "changeRequestIssues": [],
            "appliedAt": None,
            "appliedByUserId": None,
            "appliedByUserEmail": None,
            "appliedByUserFullName": None,
            "closedAt": None,
            "closedByUserId": None,
            "closedByUserEmail": None,
            "closedByUserFullName": None,
            "bypassApproval": False,
            "_creator": creator,
            "_product": product,
        }
        self._activity(draft, "created", created, creator, "Created the Change Request.")
        if draft["reason"] is not None and self.chance(0.2):
            self._activity(
                draft,
                "reasonChanged",
                self.stamp(created.ticks, created.ticks + HOUR),
                creator,
                f'Changed the reason to "{draft["reason"]}".',
            )
        return draft

    def _activity(
        self,
        draft: dict,
        kind: str,
        at: UtcDateTime,
        user: dict | None,
        details: str,
        *,
        error: str | None = None,
    ) -> None:
        """`user` None: the scheduler."""
        draft["activities"].append(
            {
                "changeRequestActivityId": None,
                "changeRequestActivityType": kind,
                "date": at,
                "userId": user["userId"] if user else None,
                "userFullName": user["fullName"] if user else "ConfigCat scheduler",
                "userEmail": user["email"] if user else None,
                "details": details,
                "error": error,
            }
        )

    def _issue(
        self, draft: dict, kind: str, details: str, at: UtcDateTime, fixed: UtcDateTime | None
    ) -> None:
        draft["changeRequestIssues"].append(
            {
                "changeRequestIssueId": None,
                "issueType": kind,
                "issueDetails": details,
                "issueDetectedAt": at,
                "issueFixedAt": fixed,
            }
        )
        if fixed is None:
            draft["needsAttention"] = True

    def _approvals(
        self, draft: dict, members: list[dict], created: UtcDateTime, end: int, count: int
    ) -> None:
        """`count` approvals between creation and `end`, by others than the creator; one may
        have been dismissed by an update of the proposed changes (and given again after it)."""
        creator = draft["_creator"]
        others = [m for m in members if m["userId"] != creator["userId"]] or members
        approvers = self.rng.sample(others, min(count, len(others)))
        if not approvers:
            return
        start = created.ticks
        if self.chance(0.2):
            first = self.stamp(start, end)
            dismissed = self.stamp(first.ticks, end)
            self._approval(draft, approvers[0], first, dismissed)
            self._activity(
                draft,
                "proposedChangesUpdated",
                dismissed,
                creator,
                "Updated the proposed changes; approvals given before were dismissed.",
            )
            start = dismissed.ticks
        for approver in approvers:
            self._approval(draft, approver, self.stamp(start, end), None)
        draft["approved"] = True

    def _approval(
        self, draft: dict, user: dict, at: UtcDateTime, dismissed: UtcDateTime | None
    ) -> None:
        draft["approvals"].append(
            {
                "changeRequestApprovalId": None,
                "userEmail": user["email"],
                "userFullName": user["fullName"],
                "approvedAt": at,
                "dismissedAt": dismissed,
            }
        )

    def _comments(self, draft: dict, members: list[dict], created: UtcDateTime, end: int) -> None:
        for _ in range(self.rng.choice([0, 0, 1, 1, 2, 3])):
            author = self.rng.choice(members)
            at = self.stamp(created.ticks, end)
            draft["comments"].append(
                {
                    "changeRequestCommentId": None,
                    "body": self.texts.note(
                        self.rng.choice(
                            COMMENTS + ([REASON_COMMENT] if draft["reason"] is None else [])
                        ),
                        field="comment body",
                        max_length=5000,
                    ),
                    "createdAt": at,
                    "userEmail": author["email"],
                    "userFullName": author["fullName"],
                    "editedAt": self.stamp(at.ticks, at.ticks + HOUR)
                    if self.chance(0.15)
                    else None,
                }
            )

    def _number(self, drafts: list[dict]) -> None:
        """Ids in the order of dates, account-wide; every list sorted; drafts become models."""
        account = self.account
        drafts.sort(key=lambda d: d["createdAt"])
        for kind, path in (
            ("changeRequestCommentId", "comments"),
            ("changeRequestApprovalId", "approvals"),
            ("changeRequestActivityId", "activities"),
            ("changeRequestIssueId", "changeRequestIssues"),
        ):
            date = {
                "comments": "createdAt",
                "approvals": "approvedAt",
                "activities": "date",
                "changeRequestIssues": "issueDetectedAt",
            }[path]
            for draft in drafts:
                draft[path].sort(key=lambda item, date=date: item[date])
            items = sorted(
                (item for draft in drafts for item in draft[path]), key=lambda item: item[date]
            )
            for number, item in enumerate(items, start=FIRST_IDS[kind]):
                item[kind] = number
        for product in account.products:
            account.change_requests[product["productId"]] = []
        for number, draft in enumerate(drafts, start=FIRST_IDS["changeRequestId"]):
            draft["changeRequestId"] = number
            del draft["_creator"]
            product = draft.pop("_product")
            account.change_requests[product["productId"]].append(draft)
            account.change_requests_by_id[number] = draft
        for items in account.change_requests.values():
            items.reverse()  # newest first

    # -- evaluation formulas ------------------------------------------------------------------

    def _proposed(
        self, target: _Target, original: dict, proposed: dict, *, has_conflict: bool
    ) -> dict:
        setting = self._setting(target)
        return {
            "settingId": setting["settingId"],
            "settingKey": setting["key"],
            "settingName": setting["name"],
            "settingHint": setting["hint"],
            "settingType": setting["settingType"],
            "hasConflict": has_conflict,
            "originalEvaluationFormula": original,
            "proposedEvaluationFormula": proposed,
        }

    def _formula(self, target: _Target, value: dict) -> dict:
        """A v2 config's ConfigSettingFormulaModel as an AuditLogSettingValueV2EvaluationFormula."""
        product_id = target.config["product"]["productId"]
        segments = {s["segmentId"]: s["name"] for s in self.account.segments[product_id]}
        settings = {s["settingId"]: s for s in self.account.settings[target.config["configId"]]}
        setting = self._setting(target)
        rules = []
        for rule in value["targetingRules"]:
            conditions = []
            for condition in rule["conditions"]:
                user = condition["userCondition"]
                segment = condition["segmentCondition"]
                prerequisite = condition["prerequisiteFlagCondition"]
                kind = next(kind for kind, part in condition.items() if part)
                conditions.append(
                    {
                        "conditionType": kind,
                        "comparisonAttribute": user["comparisonAttribute"] if user else None,
                        "userComparator": user["comparator"] if user else None,
                        "comparisonValue": copy.deepcopy(user["comparisonValue"]) if user else None,
                        "segmentComparator": segment["comparator"] if segment else None,
                        "segmentId": segment["segmentId"] if segment else None,
                        "segmentName": segments[segment["segmentId"]] if segment else None,
                        "prerequisiteComparator": prerequisite["comparator"]
                        if prerequisite
                        else None,
                        "prerequisiteSettingId": (
                            prerequisite["prerequisiteSettingId"] if prerequisite else None
                        ),
                        "prerequisiteSettingKey": (
                            settings[prerequisite["prerequisiteSettingId"]]["key"]
                            if prerequisite
                            else None
                        ),
                        "prerequisiteComparisonValue": (
                            copy.deepcopy(prerequisite["prerequisiteComparisonValue"])
                            if prerequisite
                            else None
                        ),
                        "prerequisiteComparisonValuePredefinedVariationName": None,
                    }
                )
            rules.append(
                {
                    "value": copy.deepcopy(rule["value"]),
                    "valuePredefinedVariationName": _variation_name(setting, rule["value"]),
                    "conditions": conditions,
                    "percentageOptions": [
                        {
                            "percentage": option["percentage"],
                            "value": copy.deepcopy(option["value"]),
                            "valuePredefinedVariationName": _variation_name(
                                setting, option["value"]
                            ),
                        }
                        for option in rule["percentageOptions"]
                    ],
                }
            )
        return {
            "defaultValue": copy.deepcopy(value["defaultValue"]),
            "defaultValuePredefinedVariationName": _variation_name(setting, value["defaultValue"]),
            "targetingRules": rules,
            "percentageEvaluationAttribute": value["percentageEvaluationAttribute"],
        }

    def _new_value(self, setting: dict, instead_of: dict | None = None) -> dict:
        """A ValueModel the setting may take, other than `instead_of` where there is another."""
        variations = setting["predefinedVariations"]
        if variations:
            others = [
                v
                for v in variations
                if instead_of is None
                or v["predefinedVariationId"] != instead_of["predefinedVariationId"]
            ]
            variation = self.rng.choice(others or variations)
            return variation["value"] | {
                "predefinedVariationId": variation["predefinedVariationId"]
            }
        setting_type = setting["settingType"]
        old = instead_of or {}
        raw: Any
        if setting_type == "boolean":
            raw = not old["boolValue"] if old.get("boolValue") is not None else self.chance(0.5)
        elif setting_type == "string":
            choices = [s for s in STRING_VALUES if s != old.get("stringValue")]
            raw = self.rng.choice(choices)
            if setting["isJson"]:
                raw = json.dumps({"theme": raw, "limit": self.rng.choice([5, 10, 20])})
        elif setting_type == "int":
            raw = self.rng.randrange(0, 500)
        else:
            raw = round(self.rng.uniform(0, 100), 2)
        return {
            "boolValue": raw if setting_type == "boolean" else None,
            "stringValue": raw if setting_type == "string" else None,
            "intValue": raw if setting_type == "int" else None,
            "doubleValue": raw if setting_type == "double" else None,
            "predefinedVariationId": None,
        }

    def _variant(self, formula: dict, target: _Target, product: dict) -> tuple[dict, str]:
        """Another formula one edit away from `formula`, and the title of that edit."""
        setting = self._setting(target)
        key, environment = setting["key"], target.environment["name"]
        changed = copy.deepcopy(formula)
        kind = self.rng.choice(["default", "default", "rule", "percentage"])
        if kind == "default":
            value = self._new_value(setting, formula["defaultValue"])
            changed["defaultValue"] = value
            changed["defaultValuePredefinedVariationName"] = _variation_name(setting, value)
            title = _default_title(setting, value, environment)
        elif kind == "rule":
            attribute, comparator, comparison = self.rng.choice(USER_CONDITIONS)
            comparison = dict(comparison)
            listed = comparison.pop("listValue", None)
            comparison["listValue"] = (
                [{"value": item, "hint": None} for item in LIST_VALUES[listed]] if listed else None
            )
            value = self._new_value(setting)
            changed["targetingRules"].insert(
                0,
                {
                    "value": value,
                    "valuePredefinedVariationName": _variation_name(setting, value),
                    "conditions": [_user_condition(attribute, comparator, comparison)],
                    "percentageOptions": [],
                },
            )
            title = f"Target users by {attribute} with {key} in {environment}"
        else:
            share = self.rng.randrange(5, 100, 5)
            first = self._new_value(setting)
            second = self._new_value(setting, first)
            rules = [
                rule
                for rule in changed["targetingRules"]
                if rule["conditions"] or not rule["percentageOptions"]
            ]
            rules.append(
                {
                    "value": None,
                    "valuePredefinedVariationName": None,
                    "conditions": [],
                    "percentageOptions": [
                        {
                            "percentage": share,
                            "value": first,
                            "valuePredefinedVariationName": _variation_name(setting, first),
                        },
                        {
                            "percentage": 100 - share,
                            "value": second,
                            "valuePredefinedVariationName": _variation_name(setting, second),
                        },
                    ],
                }
            )
            changed["targetingRules"] = rules
            title = f"Roll out {key} to {share}% in {environment}"
        return changed, title

    def _previous(self, formula: dict, target: _Target) -> tuple[dict, str]:
        """A formula one edit before `formula`, and the title of the edit that made `formula`."""
        setting = self._setting(target)
        key, environment = setting["key"], target.environment["name"]
        older = copy.deepcopy(formula)
        rules = older["targetingRules"]
        conditioned = [index for index, rule in enumerate(rules) if rule["conditions"]]
        splits = [
            index
            for index, rule in enumerate(rules)
            if not rule["conditions"] and rule["percentageOptions"]
        ]
        kinds = ["default", "default"]
        kinds += ["rule"] if conditioned else []
        kinds += ["percentage"] if splits else []
        kind = self.rng.choice(kinds)
        if kind == "default":
            value = self._new_value(setting, formula["defaultValue"])
            older["defaultValue"] = value
            older["defaultValuePredefinedVariationName"] = _variation_name(setting, value)
            return older, _default_title(setting, formula["defaultValue"], environment)
        if kind == "rule":
            condition = rules.pop(conditioned[0])["conditions"][0]
            if condition["conditionType"] == "segmentCondition":
                return older, f"Target {condition['segmentName']} with {key} in {environment}"
            if condition["conditionType"] == "prerequisiteFlagCondition":
                prerequisite = condition["prerequisiteSettingKey"]
                return older, f"Make {key} depend on {prerequisite} in {environment}"
            attribute = condition["comparisonAttribute"]
            return older, f"Target users by {attribute} with {key} in {environment}"
        share = rules.pop(splits[0])["percentageOptions"][0]["percentage"]
        return older, f"Roll out {key} to {share}% in {environment}"


# -- helpers ----------------------------------------------------------------------------------


def _default_title(setting: dict, value: dict, environment: str) -> str:
    """The title of a change that makes `value` the default."""
    key = setting["key"]
    if setting["settingType"] == "boolean" and value["predefinedVariationId"] is None:
        return f"Turn {'on' if value['boolValue'] else 'off'} {key} in {environment}"
    return f"Serve {_value_text(value, setting)} from {key} in {environment}"


@functools.cache
def _words(key: str) -> str:
    """`enableDarkMode` -> `enable Dark Mode`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _variation_name(setting: dict, value: dict | None) -> str | None:
    if value is None or value.get("predefinedVariationId") is None:
        return None
    for variation in setting["predefinedVariations"]:
        if variation["predefinedVariationId"] == value["predefinedVariationId"]:
            return variation["name"]
    return None


def _value_text(value: dict, setting: dict) -> str:
    name = _variation_name(setting, value)
    if name is not None:
        return name
    for key in ("boolValue", "stringValue", "intValue", "doubleValue"):
        if value[key] is not None:
            return str(value[key]) if key != "stringValue" else f'"{value[key]}"'
    return "null"


def _user_condition(attribute: str, comparator: str, comparison: dict) -> dict:
    return {
        "conditionType": "userCondition",
        "comparisonAttribute": attribute,
        "userComparator": comparator,
        "comparisonValue": comparison,
        "segmentComparator": None,
        "segmentId": None,
        "segmentName": None,
        "prerequisiteComparator": None,
        "prerequisiteSettingId": None,
        "prerequisiteSettingKey": None,
        "prerequisiteComparisonValue": None,
        "prerequisiteComparisonValuePredefinedVariationName": None,
    }


def _source_files(kind: str, module: str) -> list[str]:
    pascal = "".join(part.capitalize() for part in module.split("-"))
    snake = module.replace("-", "_")
    return {
        "web": [f"src/features/{module}/index.ts", f"src/features/{module}/{module}.test.ts"],
        "api": [f"app/{snake}/views.py", f"tests/test_{snake}.py"],
        "service": [f"src/Features/{pascal}Service.cs", f"tests/Features/{pascal}ServiceTests.cs"],
        "ios": [f"App/Features/{pascal}View.swift"],
        "android": [f"app/src/main/java/com/example/features/{pascal}Screen.kt"],
    }[kind]


def _snippet(kind: str, key: str, setting_type: str) -> tuple[list[str], str, list[str]]:
    """Up to 3 lines before, the line reading the flag, up to 3 lines after."""
    python = kind == "api"
    default = {
        "boolean": "False" if python else "false",
        "string": "''" if python else '""',
        "int": "0",
        "double": "0.0",
    }[setting_type]
    name = "".join(part.capitalize() for part in _words(key).split())
    variable = name[0].lower() + name[1:]
    snippets = {
        "web": lambda: (
            [
                "",
                f"export async function read{name}(user: User) {{",
                "  const client = getClient();",
            ],
            f'  const {variable} = await client.getValueAsync("{key}", {default}, user);',
            [f"  return {variable};", "}", ""],
        ),
        "api": lambda: (
            [
                "",
                f"def read_{_slug(_words(key)).replace('-', '_')}(user):",
                "    client = get_client()",
            ],
            f'    value = client.get_value("{key}", {default}, user)',
            ["    return value", "", ""],
        ),
        "service": lambda: (
            ["    {", f"        public async Task<object> Read{name}(User user)", "        {"],
            f'            var value = await _client.GetValueAsync("{key}", {default}, user);',
            ["            return value;", "        }", "    }"],
        ),
        "ios": lambda: (
            ["", f"    func read{name}(user: ConfigCatUser) async -> Any {{", ""],
            f'        let value = await client.getValue(for: "{key}", defaultValue: {default},'
            " user: user)",
            ["        return value", "    }", ""],
        ),
        "android": lambda: (
            ["", f"    suspend fun read{name}(user: ConfigCatUser): Any {{", ""],
            f'        val value = client.getValue("{key}", {default}, user)',
            ["        return value", "    }", ""],
        ),
    }
    return snippets[kind]()
