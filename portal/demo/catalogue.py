"""The fixed content of the demo organisation, Harbour Mutual: a bank-and-insurer with
customer-facing and internal value streams.

Everything here is data. Slugs, e-mail domain and usernames are also how `builder` finds
its own rows again, so changing one of them orphans rows seeded before the change.
Day offsets are relative to the seed's "now" (today at midnight UTC).
"""

from dataclasses import dataclass, field

from core import access
from streams.models import FlowType, LeadershipAssignment, ValueStream, Waste
from teams.models import Membership, Team

COMPANY = "Harbour Mutual"
# RFC 2606 reserves .example, so no demo address can ever reach a real mailbox.
EMAIL_DOMAIN = "harbour.example"
SEED = 20260401
ITEM_SOURCE = "seed"

DISCIPLINES = (
    ("product", "Product management"),
    ("design", "Design"),
    ("engineering", "Engineering"),
    ("qa", "Quality assurance"),
    ("data", "Data"),
    ("operations", "Operations"),
    ("security", "Security"),
    ("business-analysis", "Business analysis"),
    ("legal", "Legal"),
    ("marketing", "Marketing"),
)

# Board order, (name, category). Every workflow has queues mapped to waiting states, so
# flow efficiency is measurable on every stream.
WORKFLOWS = {
    "delivery": (
        ("Backlog", "backlog"),
        ("Ready", "backlog"),
        ("In progress", "active"),
        ("Waiting for review", "waiting"),
        ("Review", "active"),
        ("Ready for release", "waiting"),
        ("Done", "done"),
        ("Removed", "removed"),
    ),
    "regulated": (
        ("Backlog", "backlog"),
        ("Refined", "backlog"),
        ("Analysis", "active"),
        ("Build", "active"),
        ("Waiting for test", "waiting"),
        ("Test", "active"),
        ("Waiting for approval", "waiting"),
        ("Ready for release", "waiting"),
        ("Released", "done"),
        ("Won't do", "removed"),
    ),
    "platform": (
        ("Backlog", "backlog"),
        ("Selected", "backlog"),
        ("In progress", "active"),
        ("Waiting for review", "waiting"),
        ("Review", "active"),
        ("Waiting for change window", "waiting"),
        ("Done", "done"),
        ("Removed", "removed"),
    ),
}
ACTIVE_STATE_WIP_LIMIT = 8


@dataclass(frozen=True)
class KeyResultSpec:
    title: str
    kind: str
    unit: str
    start: float
    target: float


@dataclass(frozen=True)
class ObjectiveSpec:
    title: str
    company: int  # index into COMPANY_OBJECTIVES: the parent in the alignment tree
    key_results: tuple[KeyResultSpec, ...]


def _kr(title: str, kind: str, unit: str, start: float, target: float) -> KeyResultSpec:
    return KeyResultSpec(title, kind, unit, start, target)


OUTCOME, OUTPUT = "outcome", "output"


@dataclass(frozen=True)
class StreamSpec:
    slug: str
    name: str
    prefix: str  # external keys look like PAY-142
    customer: str
    industry: str
    description: str
    workflow: str
    items: int
    disciplines: tuple[str, ...]
    mix: tuple[int, int, int, int]  # target % of feature, defect, risk, debt this quarter
    previous_mix: tuple[int, int, int, int]
    objects: tuple[str, ...]  # what the stream's work is about, for item titles
    epics: tuple[str, ...]
    objectives: tuple[ObjectiveSpec, ...]  # previous quarter: [0, 1]; current: [1, 2]
    revenue: int | None = None
    cost: int | None = None
    pnl_period: str = ValueStream.PnlPeriod.QUARTER
    waiting_weight: float = 2.0  # how long queues are relative to work: drives flow efficiency
    speedup_after_days: int | None = None  # an experiment started this many days ago works
    status: str = ValueStream.Status.ACTIVE


EXTERNAL, INTERNAL = ValueStream.Customer.EXTERNAL, ValueStream.Customer.INTERNAL

STREAMS = (
    StreamSpec(
        slug="retail-payments",
        name="Retail Payments",
        prefix="PAY",
        customer=EXTERNAL,
        industry="Payments",
        description="Everything a personal or business customer does to move money: transfers, standing "
        "orders, direct debits and request to pay.",
        workflow="delivery",
        items=250,
        disciplines=("product", "design", "engineering", "qa", "security"),
        mix=(60, 20, 10, 10),
        previous_mix=(55, 25, 10, 10),
        objects=(
            "instant payments",
            "standing orders",
            "direct debit set-up",
            "payee confirmation",
            "international transfers",
            "payment limits",
            "scheduled payments",
            "payment receipts",
        ),
        epics=(
            "Confirmation of payee everywhere",
            "Request to pay",
            "Instant international transfers",
            "Payments hub modernisation",
            "Smarter payment limits",
        ),
        objectives=(
            ObjectiveSpec(
                "Make paying anyone instant and safe",
                1,
                (
                    _kr("Payments completed in under 10 seconds", OUTCOME, "%", 72, 95),
                    _kr("Authorised push-payment fraud losses", OUTCOME, "€k", 480, 300),
                ),
            ),
            ObjectiveSpec(
                "Grow payments revenue from business customers",
                0,
                (
                    _kr("Monthly active business payers", OUTCOME, "thousand", 41, 50),
                    _kr("Request to pay milestones delivered", OUTPUT, "milestones", 0, 4),
                ),
            ),
            ObjectiveSpec(
                "Retire the legacy payments hub",
                2,
                (
                    _kr("Payment types moved to the new hub", OUTPUT, "count", 3, 9),
                    _kr("Severity-1 payment incidents", OUTCOME, "incidents", 4, 1),
                ),
            ),
        ),
        revenue=4_200_000,
        cost=2_950_000,
    ),
    StreamSpec(
        slug="card-services",
        name="Card Services",
        prefix="CRD",
        customer=EXTERNAL,
        industry="Retail banking",
        description="Debit and credit cards from application to replacement, with digital wallets and disputes.",
        workflow="delivery",
        items=210,
        disciplines=("product", "design", "engineering", "qa"),
        mix=(55, 25, 10, 10),
        previous_mix=(50, 30, 10, 10),
        objects=(
            "card freeze",
            "virtual cards",
            "PIN reminder",
            "spending insights",
            "card replacement",
            "wallet provisioning",
            "dispute form",
            "credit limit change",
        ),
        epics=("Digital card wallet", "Self-service disputes", "Spending insights 2.0", "Card replacement in a day"),
        objectives=(
            ObjectiveSpec(
                "Make card self-service the default",
                1,
                (
                    _kr("Card requests handled without calling us", OUTCOME, "%", 55, 75),
                    _kr("Calls about cards", OUTCOME, "thousand/month", 38, 28),
                ),
            ),
            ObjectiveSpec(
                "Increase card spend",
                0,
                (
                    _kr("Spend per active card", OUTCOME, "€/month", 612, 680),
                    _kr("Customers using spending insights", OUTCOME, "%", 12, 25),
                ),
            ),
            ObjectiveSpec(
                "Cut card fraud",
                2,
                (
                    _kr("Fraud losses per €1m of spend", OUTCOME, "€", 410, 320),
                    _kr("Disputes resolved within 5 days", OUTCOME, "%", 48, 70),
                ),
            ),
        ),
        revenue=3_100_000,
        cost=2_400_000,
    ),
    StreamSpec(
        slug="mortgages-online",
        name="Mortgages Online",
        prefix="MTG",
        customer=EXTERNAL,
        industry="Retail banking",
        description="Mortgage applications, remortgage switches and the broker portal.",
        workflow="regulated",
        items=180,
        disciplines=("product", "design", "engineering", "business-analysis", "legal"),
        mix=(60, 15, 15, 10),
        previous_mix=(65, 15, 10, 10),
        objects=(
            "affordability calculator",
            "document upload",
            "offer letter",
            "broker portal",
            "remortgage switch",
            "valuation booking",
            "application tracker",
            "overpayment calculator",
        ),
        epics=(
            "Online remortgage switch",
            "Broker portal rebuild",
            "Digital document checks",
            "Instant decision in principle",
        ),
        objectives=(
            ObjectiveSpec(
                "Win more remortgage customers",
                0,
                (
                    _kr("Remortgage retention rate", OUTCOME, "%", 61, 70),
                    _kr("Remortgage switches completed online", OUTCOME, "%", 22, 45),
                ),
            ),
            ObjectiveSpec(
                "Make applying for a mortgage simple",
                1,
                (
                    _kr("Days from application to offer", OUTCOME, "days", 24, 14),
                    _kr("Applications abandoned at document upload", OUTCOME, "%", 31, 18),
                ),
            ),
            ObjectiveSpec(
                "Serve brokers as well as customers",
                0,
                (
                    _kr("Broker NPS", OUTCOME, "points", 12, 30),
                    _kr("Broker portal features released", OUTPUT, "count", 0, 6),
                ),
            ),
        ),
        revenue=9_800_000,
        cost=6_100_000,
        pnl_period=ValueStream.PnlPeriod.YEAR,
        waiting_weight=2.8,
    ),
    StreamSpec(
        slug="home-insurance-claims",
        name="Home Insurance Claims",
        prefix="CLM",
        customer=EXTERNAL,
        industry="Insurance",
        description="From first notice of loss to settlement for buildings and contents claims.",
        workflow="regulated",
        items=220,
        disciplines=("product", "design", "engineering", "qa", "data"),
        mix=(55, 20, 15, 10),
        previous_mix=(50, 25, 15, 10),
        objects=(
            "first notice of loss",
            "photo upload",
            "claim status page",
            "repairer booking",
            "settlement payment",
            "fraud triage",
            "claim handler workbench",
            "water damage journey",
        ),
        epics=("Claims in one visit", "Self-service claim tracking", "Automated fraud triage", "Same-day settlement"),
        objectives=(
            ObjectiveSpec(
                "Settle claims faster",
                1,
                (
                    _kr("Median days to settle a home claim", OUTCOME, "days", 19, 10),
                    _kr("Claims settled in one visit", OUTCOME, "%", 18, 35),
                ),
            ),
            ObjectiveSpec(
                "Keep customers informed without a call",
                1,
                (
                    _kr("Claim status calls per 100 claims", OUTCOME, "calls", 64, 30),
                    _kr("Claim tracker adoption", OUTCOME, "%", 20, 60),
                ),
            ),
            ObjectiveSpec(
                "Stop fraud early",
                2,
                (
                    _kr("Fraudulent claims caught at first notice", OUTCOME, "%", 35, 55),
                    _kr("Fraud triage rules automated", OUTPUT, "count", 4, 12),
                ),
            ),
        ),
        revenue=5_600_000,
        cost=4_700_000,
        waiting_weight=2.4,
        speedup_after_days=70,
    ),
    StreamSpec(
        slug="motor-insurance-quotes",
        name="Motor Insurance Quotes",
        prefix="MOT",
        customer=EXTERNAL,
        industry="Insurance",
        description="Quote and buy for car insurance, direct and through price comparison sites.",
        workflow="delivery",
        items=200,
        disciplines=("product", "design", "engineering", "qa", "data"),
        mix=(65, 15, 10, 10),
        previous_mix=(60, 20, 10, 10),
        objects=(
            "quote form",
            "price comparison feed",
            "no-claims discount check",
            "telematics pricing",
            "add-on covers",
            "renewal quote",
            "driver details",
            "payment by instalments",
        ),
        epics=("Quote in 60 seconds", "Telematics pricing", "Renewal retention", "Aggregator feed v3"),
        objectives=(
            ObjectiveSpec(
                "Quote faster than anyone",
                0,
                (
                    _kr("Quote form completion rate", OUTCOME, "%", 58, 72),
                    _kr("Median time to quote", OUTCOME, "seconds", 140, 60),
                ),
            ),
            ObjectiveSpec(
                "Price risk more accurately",
                2,
                (
                    _kr("Loss ratio", OUTCOME, "%", 78, 70),
                    _kr("Telematics policies written", OUTCOME, "thousand", 2, 8),
                ),
            ),
            ObjectiveSpec(
                "Keep more customers at renewal",
                0,
                (
                    _kr("Renewal retention", OUTCOME, "%", 64, 72),
                    _kr("Renewal journeys redesigned", OUTPUT, "count", 0, 3),
                ),
            ),
        ),
        waiting_weight=1.6,
    ),
    StreamSpec(
        slug="customer-identity",
        name="Customer Identity",
        prefix="IAM",
        customer=INTERNAL,
        industry="Platform services",
        description="Sign-in, recovery and consent for every customer-facing product.",
        workflow="platform",
        items=160,
        disciplines=("product", "engineering", "security", "qa"),
        mix=(45, 15, 25, 15),
        previous_mix=(40, 15, 30, 15),
        objects=(
            "sign-in",
            "passkeys",
            "two-factor authentication",
            "account recovery",
            "consent records",
            "session management",
            "identity verification",
            "single sign-on",
        ),
        epics=("Passkeys for all customers", "Single customer identity", "Account recovery without the call centre"),
        objectives=(
            ObjectiveSpec(
                "Make signing in effortless and safe",
                1,
                (_kr("Customers using passkeys", OUTCOME, "%", 4, 25), _kr("Failed sign-in rate", OUTCOME, "%", 9, 4)),
            ),
            ObjectiveSpec(
                "One identity across every product",
                2,
                (
                    _kr("Products on single sign-on", OUTPUT, "count", 2, 7),
                    _kr("Account takeover incidents", OUTCOME, "incidents", 11, 3),
                ),
            ),
            ObjectiveSpec(
                "Recover accounts without the call centre",
                1,
                (
                    _kr("Recoveries completed online", OUTCOME, "%", 30, 70),
                    _kr("Recovery calls", OUTCOME, "thousand/month", 9, 4),
                ),
            ),
        ),
        cost=1_300_000,
    ),
    StreamSpec(
        slug="data-analytics-platform",
        name="Data & Analytics Platform",
        prefix="DAT",
        customer=INTERNAL,
        industry="Platform services",
        description="Datasets, pipelines and self-service analytics for every other stream.",
        workflow="platform",
        items=150,
        disciplines=("product", "engineering", "data", "security"),
        mix=(45, 10, 15, 30),
        previous_mix=(50, 10, 15, 25),
        objects=(
            "data catalogue",
            "customer 360 dataset",
            "streaming ingestion",
            "data quality checks",
            "BI dashboards",
            "feature store",
            "data retention jobs",
            "lineage tracking",
        ),
        epics=("Self-service analytics", "Real-time customer events", "Data quality by default"),
        objectives=(
            ObjectiveSpec(
                "Let every team answer its own questions",
                0,
                (
                    _kr("Teams using self-service analytics", OUTCOME, "teams", 6, 20),
                    _kr("Datasets with an owner and a description", OUTCOME, "%", 35, 80),
                ),
            ),
            ObjectiveSpec(
                "Trust the numbers",
                2,
                (
                    _kr("Data quality incidents", OUTCOME, "incidents", 14, 4),
                    _kr("Critical datasets with automated checks", OUTPUT, "%", 20, 90),
                ),
            ),
            ObjectiveSpec(
                "Customer events in real time",
                0,
                (
                    _kr("Customer events available within a minute", OUTCOME, "%", 10, 75),
                    _kr("Producers on the event stream", OUTPUT, "count", 3, 10),
                ),
            ),
        ),
        cost=900_000,
        waiting_weight=1.2,
    ),
    StreamSpec(
        slug="regulatory-reporting",
        name="Regulatory Reporting",
        prefix="REG",
        customer=INTERNAL,
        industry="Corporate functions",
        description="Returns to the regulators, reconciliations and Consumer Duty evidence.",
        workflow="regulated",
        items=130,
        disciplines=("product", "engineering", "business-analysis", "data", "legal"),
        mix=(40, 15, 30, 15),
        previous_mix=(35, 15, 35, 15),
        objects=(
            "capital adequacy report",
            "liquidity return",
            "transaction reporting",
            "audit trail",
            "reconciliation engine",
            "Consumer Duty evidence",
            "submission portal",
            "reference data",
        ),
        epics=("Consumer Duty reporting", "Automated reconciliations", "Liquidity return rebuild"),
        objectives=(
            ObjectiveSpec(
                "File every return on time, first time",
                2,
                (
                    _kr("Returns resubmitted", OUTCOME, "returns", 5, 0),
                    _kr("Manual adjustments per return", OUTCOME, "count", 120, 40),
                ),
            ),
            ObjectiveSpec(
                "Evidence Consumer Duty outcomes",
                2,
                (
                    _kr("Outcome measures automated", OUTPUT, "count", 2, 12),
                    _kr("Days to prepare the board report", OUTCOME, "days", 15, 5),
                ),
            ),
            ObjectiveSpec(
                "Reconcile automatically",
                2,
                (
                    _kr("Reconciliations automated", OUTCOME, "%", 40, 85),
                    _kr("Breaks older than 5 days", OUTCOME, "count", 85, 20),
                ),
            ),
        ),
        cost=750_000,
        pnl_period=ValueStream.PnlPeriod.YEAR,
        waiting_weight=3.0,
    ),
)

COMPANY_OBJECTIVES = (
    ObjectiveSpec(
        "Grow digital revenue",
        -1,
        (
            _kr("Share of sales made digitally", OUTCOME, "%", 38, 50),
            _kr("Quarterly digital revenue", OUTCOME, "€m", 18.0, 21.5),
        ),
    ),
    ObjectiveSpec(
        "Delight customers in every channel",
        -1,
        (
            _kr("Group NPS", OUTCOME, "points", 21, 30),
            _kr("Complaints per 10,000 customers", OUTCOME, "complaints", 14, 9),
        ),
    ),
    ObjectiveSpec(
        "Run a resilient, compliant business",
        -1,
        (
            _kr("Severity-1 incidents per quarter", OUTCOME, "incidents", 6, 2),
            _kr("Regulatory findings closed", OUTPUT, "findings", 0, 12),
        ),
    ),
)

# One objective per team and quarter; a team serving one or two streams contributes to one
# of their objectives, a shared-services team straight to the company objective named here.
TEAM_OBJECTIVES = {
    Team.Type.STREAM_ALIGNED: ObjectiveSpec(
        "Deliver predictably",
        1,
        (
            _kr("85th percentile flow time of stories", OUTCOME, "days", 14, 9),
            _kr("Items released to customers", OUTPUT, "items", 0, 40),
        ),
    ),
    Team.Type.PLATFORM: ObjectiveSpec(
        "Make releasing boring",
        2,
        (
            _kr("Deployments per week", OUTCOME, "deployments", 4, 15),
            _kr("Mean time to restore", OUTCOME, "hours", 6, 2),
        ),
    ),
    Team.Type.ENABLING: ObjectiveSpec(
        "Help teams adopt continuous delivery",
        2,
        (
            _kr("Teams on trunk-based development", OUTCOME, "teams", 2, 7),
            _kr("Coaching workshops run", OUTPUT, "workshops", 0, 8),
        ),
    ),
    Team.Type.COMPLICATED_SUBSYSTEM: ObjectiveSpec(
        "Change models in days, not months",
        0,
        (
            _kr("Days to release a model change", OUTCOME, "days", 30, 10),
            _kr("Model changes released", OUTPUT, "changes", 0, 6),
        ),
    ),
    Team.Type.BUSINESS_OPERATIONS: ObjectiveSpec(
        "Every release is ready for customers",
        1,
        (
            _kr("Readiness checks decided within 2 days", OUTCOME, "%", 55, 90),
            _kr("Releases delayed by readiness", OUTCOME, "releases", 9, 3),
        ),
    ),
}

MEMBER = Membership.Role.MEMBER
PO = Membership.Role.PRODUCT_OWNER
LEAD = Membership.Role.TEAM_LEAD
COACH = Membership.Role.AGILE_COACH


@dataclass(frozen=True)
class Seat:
    """A place in a team's roster: the person filling it is created for it."""

    title: str
    disciplines: tuple[str, ...]
    role: str = MEMBER
    allocation: int = 100


def _seat(title: str, *disciplines: str, role: str = MEMBER, allocation: int = 100) -> Seat:
    return Seat(title, disciplines, role, allocation)


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str
    type: str
    work_mode: str
    serves: tuple[str, ...]
    roster: tuple[Seat, ...]
    wip_limit: int | None = None
    description: str = ""
    item_weight: float = 0.0  # share of the served streams' backlog the team takes on


SA, PLATFORM, ENABLING = Team.Type.STREAM_ALIGNED, Team.Type.PLATFORM, Team.Type.ENABLING
SUBSYSTEM, BUSINESS_OPS = Team.Type.COMPLICATED_SUBSYSTEM, Team.Type.BUSINESS_OPERATIONS
PROBABILISTIC, DETERMINISTIC, MIXED = (
    Team.WorkMode.PROBABILISTIC,
    Team.WorkMode.DETERMINISTIC,
    Team.WorkMode.MIXED,
)
ALL_STREAMS = tuple(stream.slug for stream in STREAMS)
EXTERNAL_STREAMS = tuple(stream.slug for stream in STREAMS if stream.customer == EXTERNAL)

TEAMS = (
    TeamSpec(
        "payments-core",
        "Payments Core",
        SA,
        PROBABILISTIC,
        ("retail-payments",),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Senior Software Engineer", "engineering", "security"),
            _seat("QA Engineer", "qa"),
            _seat("Product Designer", "design", allocation=50),
        ),
        wip_limit=8,
        item_weight=8,
    ),
    TeamSpec(
        "cards-experience",
        "Cards Experience",
        SA,
        PROBABILISTIC,
        ("card-services",),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Software Engineer", "engineering"),
            _seat("QA Engineer", "qa"),
        ),
        wip_limit=6,
        item_weight=8,
    ),
    TeamSpec(
        "mortgage-journey",
        "Mortgage Journey",
        SA,
        MIXED,
        ("mortgages-online",),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Business Analyst", "business-analysis"),
            _seat("Service Designer", "design"),
        ),
        wip_limit=6,
        item_weight=8,
        description="Misses a legal specialist: mortgage copy waits for Legal & Compliance.",
    ),
    TeamSpec(
        "claims-express",
        "Claims Express",
        SA,
        PROBABILISTIC,
        ("home-insurance-claims",),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Software Engineer", "engineering"),
            _seat("QA Engineer", "qa", allocation=60),
            _seat("Data Analyst", "data"),
        ),
        wip_limit=5,
        item_weight=8,
    ),
    TeamSpec(
        "quote-and-buy",
        "Quote & Buy",
        SA,
        PROBABILISTIC,
        ("motor-insurance-quotes",),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Full-stack Engineer", "engineering", "design"),
            _seat("Data Scientist", "data"),
        ),
        wip_limit=7,
        item_weight=8,
    ),
    TeamSpec(
        "identity-squad",
        "Identity Squad",
        SA,
        PROBABILISTIC,
        ("customer-identity",),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Security Engineer", "security", "engineering"),
            _seat("QA Engineer", "qa"),
        ),
        wip_limit=6,
        item_weight=8,
    ),
    TeamSpec(
        "reporting-squad",
        "Reporting Squad",
        SA,
        DETERMINISTIC,
        ("regulatory-reporting",),
        (
            _seat("Product Owner", "product", "business-analysis", role=PO),
            _seat("Software Engineer", "engineering"),
            _seat("Data Engineer", "data"),
        ),
        wip_limit=4,
        item_weight=8,
    ),
    TeamSpec(
        "cloud-platform",
        "Cloud Platform",
        PLATFORM,
        MIXED,
        (
            "retail-payments",
            "card-services",
            "mortgages-online",
            "home-insurance-claims",
            "motor-insurance-quotes",
            "customer-identity",
            "data-analytics-platform",
        ),
        (
            _seat("Platform Lead", "engineering", "operations", role=LEAD),
            _seat("Site Reliability Engineer", "operations"),
            _seat("Site Reliability Engineer", "operations", "security"),
        ),
        wip_limit=6,
        item_weight=0.6,
        description="Runs the cloud landing zone, CI/CD and observability every team builds on.",
    ),
    TeamSpec(
        "data-platform",
        "Data Platform",
        PLATFORM,
        PROBABILISTIC,
        ("data-analytics-platform", "regulatory-reporting"),
        (
            _seat("Product Owner", "product", role=PO),
            _seat("Data Engineer", "data", "engineering"),
            _seat("Data Engineer", "data"),
        ),
        wip_limit=6,
        item_weight=4,
    ),
    TeamSpec(
        "devex-enablement",
        "DevEx Enablement",
        ENABLING,
        MIXED,
        ("retail-payments", "mortgages-online", "regulatory-reporting"),
        (_seat("Agile Coach", "product", role=COACH), _seat("Staff Engineer", "engineering", role=LEAD)),
        item_weight=0.4,
        description="Coaches teams on continuous delivery for a quarter at a time.",
    ),
    TeamSpec(
        "pricing-engine",
        "Pricing Engine",
        SUBSYSTEM,
        DETERMINISTIC,
        ("motor-insurance-quotes", "home-insurance-claims"),
        (_seat("Actuary", "data", role=LEAD), _seat("Software Engineer", "engineering")),
        wip_limit=3,
        item_weight=2,
        description="Owns the rating models behind every insurance price.",
    ),
    TeamSpec(
        "fraud-detection",
        "Fraud Detection Models",
        SUBSYSTEM,
        PROBABILISTIC,
        ("retail-payments", "card-services"),
        (_seat("Data Scientist", "data", role=LEAD), _seat("ML Engineer", "data", "engineering")),
        wip_limit=3,
        item_weight=2,
    ),
    TeamSpec(
        "service-operations",
        "Service Operations",
        BUSINESS_OPS,
        DETERMINISTIC,
        ALL_STREAMS,
        (_seat("Support Operations Lead", "operations", role=LEAD), _seat("Service Desk Manager", "operations")),
        description="Trains the contact centre and keeps runbooks current before anything ships.",
    ),
    TeamSpec(
        "legal-compliance",
        "Legal & Compliance",
        BUSINESS_OPS,
        DETERMINISTIC,
        ALL_STREAMS,
        (_seat("Legal Counsel", "legal", role=LEAD), _seat("Compliance Officer", "legal", "business-analysis")),
    ),
    TeamSpec(
        "marketing-operations",
        "Marketing & Pricing Operations",
        BUSINESS_OPS,
        MIXED,
        EXTERNAL_STREAMS,
        (
            _seat("Marketing Operations Manager", "marketing", role=LEAD),
            _seat("Content Designer", "marketing", "design"),
        ),
    ),
)


@dataclass(frozen=True)
class ExtraMembership:
    """A second team for someone: splits their time, or (the case the portal flags) overloads it."""

    person: str  # "<team slug>:<seat index>"
    team: str
    allocation: int


EXTRA_MEMBERSHIPS = (
    ExtraMembership("payments-core:4", "cards-experience", 50),  # a designer split 50/50
    ExtraMembership("claims-express:3", "quote-and-buy", 40),  # QA split 60/40
    ExtraMembership("payments-core:2", "fraud-detection", 40),  # 140 %
    ExtraMembership("cloud-platform:1", "identity-squad", 30),  # 130 %
    ExtraMembership("data-platform:1", "reporting-squad", 50),  # 150 %
)


@dataclass(frozen=True)
class Leader:
    key: str
    title: str
    disciplines: tuple[str, ...] = ("product",)


LEADERS = (
    Leader("ceo", "Chief Executive Officer"),
    Leader("cpo", "Chief Product Officer"),
    Leader("coo", "Chief Operating Officer", ("operations",)),
    Leader("head-retail", "Head of Retail Banking", ("business-analysis",)),
    Leader("cfo", "Chief Financial Officer", ("business-analysis",)),
    Leader("pd-payments", "Product Director, Payments"),
    Leader("pd-cards", "Product Director, Cards"),
    Leader("pd-motor", "Product Director, Motor"),
    Leader("pd-identity", "Product Director, Identity", ("product", "security")),
    Leader("pd-regulatory", "Product Director, Regulatory Reporting", ("product", "business-analysis")),
    Leader("vsm-banking", "Value Stream Manager, Banking", ("product", "operations")),
    Leader("vsm-insurance", "Value Stream Manager, Insurance", ("product", "operations")),
    Leader("vsm-platforms", "Value Stream Manager, Platforms", ("engineering", "operations")),
)

DEDICATED, DUAL_ROLE = LeadershipAssignment.Kind.DEDICATED, LeadershipAssignment.Kind.DUAL_ROLE
DIRECTOR, VSM = LeadershipAssignment.Role.PRODUCT_DIRECTOR, LeadershipAssignment.Role.VALUE_STREAM_MANAGER


@dataclass(frozen=True)
class AssignmentSpec:
    stream: str
    person: str
    role: str = DIRECTOR
    kind: str = DEDICATED
    time_share: int = 100
    years: float = 8.0
    owns_pnl: bool = True
    induction: bool = True
    mentor: str | None = "cpo"
    strengths: str = ""
    weaknesses: str = ""
    started_days_ago: int = 400
    review_in_days: int | None = None  # negative: the review is overdue
    ended_days_ago: int | None = None


# Data & Analytics Platform has no product director: an ownership gap the portal shows.
ASSIGNMENTS = (
    AssignmentSpec(
        "retail-payments",
        "pd-payments",
        years=11,
        strengths="Deep payments domain; data-driven.",
        weaknesses="Tends to over-commit the roadmap.",
        started_days_ago=620,
        review_in_days=180,
    ),
    AssignmentSpec(
        "card-services",
        "pd-cards",
        years=7.5,
        strengths="Strong customer research practice.",
        weaknesses="New to P&L ownership.",
        started_days_ago=300,
        review_in_days=60,
    ),
    AssignmentSpec(
        "mortgages-online",
        "head-retail",
        kind=DUAL_ROLE,
        time_share=30,
        years=1.5,
        induction=False,
        mentor=None,
        strengths="Knows the mortgage market and the brokers.",
        weaknesses="Little time for the teams; no digital product background.",
        started_days_ago=150,
        review_in_days=30,
    ),
    AssignmentSpec(
        "home-insurance-claims",
        "coo",
        kind=DUAL_ROLE,
        time_share=40,
        years=2,
        mentor="ceo",
        strengths="Runs claims operations end to end.",
        weaknesses="Decides in steering committees.",
        started_days_ago=260,
        review_in_days=-20,
    ),
    AssignmentSpec(
        "motor-insurance-quotes",
        "pd-motor",
        years=9,
        strengths="Pricing and aggregator expertise.",
        started_days_ago=480,
        review_in_days=200,
    ),
    AssignmentSpec(
        "customer-identity",
        "pd-identity",
        years=6,
        owns_pnl=False,
        strengths="Security background.",
        weaknesses="Internal customers feel unheard.",
        started_days_ago=350,
    ),
    # A dual-role appointment that did not work out, replaced by a dedicated director.
    AssignmentSpec(
        "regulatory-reporting",
        "cfo",
        kind=DUAL_ROLE,
        time_share=20,
        years=0.5,
        owns_pnl=False,
        mentor="ceo",
        strengths="Knows every regulator by name.",
        weaknesses="No time for the backlog.",
        started_days_ago=520,
        review_in_days=None,
        ended_days_ago=160,
    ),
    AssignmentSpec(
        "regulatory-reporting",
        "pd-regulatory",
        years=5,
        owns_pnl=False,
        strengths="Former regulatory reporting analyst.",
        started_days_ago=160,
        review_in_days=20,
    ),
    AssignmentSpec("retail-payments", "vsm-banking", role=VSM, time_share=35, years=6, owns_pnl=False, mentor=None),
    AssignmentSpec("card-services", "vsm-banking", role=VSM, time_share=35, years=6, owns_pnl=False, mentor=None),
    AssignmentSpec("mortgages-online", "vsm-banking", role=VSM, time_share=30, years=6, owns_pnl=False, mentor=None),
    AssignmentSpec(
        "home-insurance-claims", "vsm-insurance", role=VSM, time_share=50, years=4, owns_pnl=False, mentor=None
    ),
    AssignmentSpec(
        "motor-insurance-quotes", "vsm-insurance", role=VSM, time_share=50, years=4, owns_pnl=False, mentor=None
    ),
    AssignmentSpec(
        "data-analytics-platform", "vsm-platforms", role=VSM, time_share=60, years=8, owns_pnl=False, mentor=None
    ),
    AssignmentSpec("customer-identity", "vsm-platforms", role=VSM, time_share=40, years=8, owns_pnl=False, mentor=None),
)


@dataclass(frozen=True)
class Login:
    """A login the seed creates. With a note it gets the demo password and is printed."""

    username: str
    group: str | None  # None: the superuser
    person: str | None  # the Person it belongs to: a leader key or "<team slug>:<seat index>"
    note: str  # what the login may do; empty for sign-off accounts that never log in


LOGINS = (
    Login("admin", None, None, "superuser: everything, including the admin"),
    Login("leader", access.LEADER, "cpo", "reads everything, edits company objectives"),
    Login("director", access.PRODUCT_DIRECTOR, "pd-payments", "product director of Retail Payments"),
    Login("owner", access.PRODUCT_OWNER, "payments-core:0", "product owner in Payments Core"),
    Login("operations", access.OPERATIONS, "service-operations:0", "signs off Service Operations readiness"),
    Login("viewer", access.VIEWER, None, "reads only"),
)


@dataclass(frozen=True)
class CriterionSpec:
    team: str
    name: str
    description: str
    flow_types: tuple[str, ...]
    streams: tuple[str, ...] = ()  # empty: all streams
    active: bool = True


F, D, R, T = FlowType.FEATURE, FlowType.DEFECT, FlowType.RISK, FlowType.DEBT

CRITERIA = (
    CriterionSpec(
        "service-operations",
        "Support team trained",
        "The contact centre has been briefed and can answer questions on the change.",
        (F,),
        EXTERNAL_STREAMS,
    ),
    CriterionSpec(
        "service-operations",
        "Runbook updated",
        "On-call runbooks describe how to operate, monitor and roll back the change.",
        (F, R, T),
    ),
    CriterionSpec(
        "legal-compliance",
        "Legal review",
        "Legal has reviewed customer-facing wording, terms and regulatory impact.",
        (F, R),
        (
            "retail-payments",
            "mortgages-online",
            "home-insurance-claims",
            "motor-insurance-quotes",
            "regulatory-reporting",
        ),
    ),
    CriterionSpec(
        "legal-compliance",
        "Data protection impact assessment",
        "A DPIA is on file for changes to how personal data is processed.",
        (R,),
    ),
    CriterionSpec(
        "marketing-operations",
        "Pricing page changed",
        "Public pricing and product pages reflect the change on release day.",
        (F,),
        ("card-services", "mortgages-online", "motor-insurance-quotes"),
    ),
    CriterionSpec(
        "marketing-operations",
        "Release notes published",
        "Customer-facing release notes are written and scheduled.",
        (F, D),
    ),
    CriterionSpec(
        "marketing-operations",
        "Printed brochure updated",
        "Retired when the printed brochure was withdrawn.",
        (F,),
        ("card-services",),
        active=False,
    ),
)

WAIVER_REASONS = (
    "Internal change only; no customer sees it.",
    "Behind a feature flag for staff until the next release.",
    "Agreed with the owning team: covered by the previous release's briefing.",
    "Emergency fix; signed off retrospectively at the incident review.",
    "Wording unchanged from the approved version.",
)

BLOCK_NOTES = {
    "dependency": ("Waiting for the API change from another team.", "Needs the platform upgrade first."),
    "approval": ("Waiting for sign-off from Legal.", "Change advisory board meets on Thursday."),
    "capacity": ("Only one person knows this code and they are on leave.", "Test environment is booked."),
    "other": ("Supplier has not answered yet.", "Waiting for production data access."),
}


@dataclass(frozen=True)
class BlockSpec:
    activity: str
    team: str | None
    people: int
    process_hours: float
    lead_hours: float
    queue: int
    pca: int
    barriers: str
    wastes: tuple[str, ...]
    states: tuple[str, ...] = ()  # workflow states of the stream the activity is measured by


@dataclass(frozen=True)
class MapSpec:
    stream: str
    name: str
    kind: str
    as_of_days_ago: int
    notes: str
    blocks: tuple[BlockSpec, ...] = field(default=())


W = Waste
MAPS = (
    MapSpec(
        "home-insurance-claims",
        "Home claim: first notice to settlement",
        "current",
        45,
        "Drawn with claim handlers and Claims Express in a two-day workshop.",
        (
            BlockSpec(
                "First notice of loss",
                "claims-express",
                3,
                0.5,
                26,
                40,
                72,
                "Claims arrive by phone, e-mail and web form; details are re-keyed.",
                (W.WAITING, W.MOTION, W.EXTRA_PROCESSING),
                ("Analysis",),
            ),
            BlockSpec(
                "Fraud triage",
                "claims-express",
                2,
                1.5,
                48,
                25,
                80,
                "Rules live in a spreadsheet; every claim is screened by hand.",
                (W.WAITING, W.INVENTORY),
            ),
            BlockSpec(
                "Loss adjuster visit",
                None,
                1,
                3,
                120,
                18,
                85,
                "Adjusters are booked by phone; visits wait for a free slot.",
                (W.WAITING, W.TRANSPORTATION),
                ("Build",),
            ),
            BlockSpec(
                "Repair quote approval",
                "claims-express",
                1,
                1,
                72,
                30,
                60,
                "Approval limits are so low that most quotes escalate.",
                (W.WAITING, W.EXTRA_PROCESSING, W.NON_UTILISED_TALENT),
                ("Waiting for test", "Test"),
            ),
            BlockSpec(
                "Coverage and legal review",
                "legal-compliance",
                1,
                2,
                96,
                12,
                90,
                "Every claim above €5,000 is reviewed, whatever the risk.",
                (W.WAITING, W.OVERPRODUCTION),
                ("Waiting for approval",),
            ),
            BlockSpec(
                "Settlement payment",
                "service-operations",
                2,
                0.5,
                30,
                20,
                95,
                "Payments run in a nightly batch; rejected ones are found days later.",
                (W.WAITING, W.DEFECTS),
                ("Ready for release",),
            ),
        ),
    ),
    MapSpec(
        "home-insurance-claims",
        "Home claim: settled in one visit",
        "future",
        45,
        "Target for the end of next year; the WIP-limit experiment is the first step.",
        (
            BlockSpec("Digital first notice with photos", "claims-express", 2, 0.3, 2, 5, 90, "", (W.MOTION,)),
            BlockSpec(
                "Automated fraud triage",
                "claims-express",
                1,
                0.2,
                1,
                2,
                92,
                "Model needs six months of labelled claims.",
                (W.DEFECTS,),
            ),
            BlockSpec("Video loss assessment", None, 1, 1, 24, 6, 90, "Only for claims below €10,000.", (W.WAITING,)),
            BlockSpec("Repair approval within delegated limits", "claims-express", 1, 0.5, 8, 4, 85, "", ()),
            BlockSpec(
                "Coverage review by exception",
                "legal-compliance",
                1,
                2,
                24,
                3,
                95,
                "Legal agrees the exception rules.",
                (W.WAITING,),
            ),
            BlockSpec("Same-day settlement payment", "service-operations", 1, 0.3, 4, 2, 98, "", ()),
        ),
    ),
)


@dataclass(frozen=True)
class ExperimentSpec:
    stream: str
    title: str
    hypothesis: str
    change: str
    metric: str
    flow_type: str
    direction: str
    size: int
    started_days_ago: int
    review_in_days: int


EXPERIMENTS = (
    ExperimentSpec(
        "home-insurance-claims",
        "WIP limit of 5 for Claims Express",
        "If Claims Express limits its work in progress to 5 items, the flow time of its work will drop "
        "by 20% within eight weeks.",
        "WIP limit of 5 on the board; no new item starts until one finishes.",
        "flow_time",
        "",
        "decrease",
        20,
        70,
        -14,
    ),
    ExperimentSpec(
        "motor-insurance-quotes",
        "Automated regression suite for Quote & Buy",
        "If Quote & Buy replaces the manual regression pass with an automated suite, flow velocity will "
        "rise by 15% within two months.",
        "Automated regression suite in the pipeline; the manual test week is dropped.",
        "throughput",
        "",
        "increase",
        15,
        30,
        30,
    ),
)

FIRST_NAMES = (
    "Amelia",
    "Oliver",
    "Priya",
    "Tomás",
    "Chloe",
    "Kwame",
    "Sofia",
    "Daniel",
    "Aisha",
    "Lukas",
    "Hannah",
    "Mateo",
    "Grace",
    "Yusuf",
    "Isla",
    "Ravi",
    "Emily",
    "Jonas",
    "Zara",
    "Samuel",
    "Mei",
    "Callum",
    "Leila",
    "Noah",
    "Freya",
    "Arjun",
    "Ruby",
    "Elias",
    "Nadia",
    "George",
    "Ingrid",
    "Kofi",
    "Lucy",
    "Marek",
    "Anika",
    "Finn",
    "Olivia",
    "Hamza",
    "Niamh",
    "Pedro",
    "Sara",
    "Theo",
    "Fatima",
    "Oscar",
    "Maya",
    "Ibrahim",
    "Erin",
    "Luca",
    "Sienna",
    "Rohan",
    "Ella",
    "Dmitri",
    "Harriet",
    "Kenji",
    "Bethany",
    "Ayo",
    "Clara",
    "Owen",
    "Lina",
    "Patrick",
)
LAST_NAMES = (
    "Hughes",
    "Okafor",
    "Sharma",
    "García",
    "Bennett",
    "Mensah",
    "Rossi",
    "Kowalski",
    "Rahman",
    "Schmidt",
    "Walsh",
    "Fernández",
    "Campbell",
    "Demir",
    "Murray",
    "Patel",
    "Clarke",
    "Berg",
    "Khan",
    "Adeyemi",
    "Chen",
    "MacLeod",
    "Haddad",
    "Evans",
    "Lindqvist",
    "Nair",
    "Doyle",
    "Novak",
    "Karimi",
    "Ellis",
    "Johansson",
    "Asante",
    "Turner",
    "Dvořák",
    "Gupta",
    "O'Brien",
    "Morgan",
    "Aziz",
    "Byrne",
    "Costa",
    "Nilsson",
    "Wright",
    "Hussain",
    "Reid",
    "Tanaka",
    "Malik",
    "Fraser",
    "Romano",
    "Price",
    "Iyer",
    "Hall",
    "Volkov",
    "Stewart",
    "Sato",
    "Lloyd",
    "Okonkwo",
    "Meyer",
    "Jones",
    "Farah",
    "Quinn",
)

FEATURE_VERBS = ("Add", "Redesign", "Simplify", "Automate", "Personalise", "Speed up", "Extend", "Improve")
FEATURE_QUALIFIERS = (
    "",
    "",
    " for business customers",
    " in the mobile app",
    " on the web",
    " for joint accounts",
    " (phase 2)",
    " for new customers",
)
STORY_STEPS = (
    "API",
    "screens",
    "analytics events",
    "edge cases",
    "copy and translations",
    "gradual rollout",
    "accessibility fixes",
    "back-office view",
)
DEFECT_PATTERNS = (
    "Timeout when saving {}",
    "Wrong total shown in {}",
    "App crashes on opening {}",
    "Duplicate e-mail sent after {}",
    "Rounding error in {}",
    "Broken link in {}",
    "Screen reader cannot reach {}",
    "Stale data shown in {}",
)
RISK_PATTERNS = (
    "Mitigate fraud risk in {}",
    "Close audit finding on {}",
    "Fix penetration-test findings in {}",
    "Harden access to {}",
    "Resilience test of {}",
    "Review third-party risk for {}",
)
DEBT_PATTERNS = (
    "Upgrade the framework behind {}",
    "Remove legacy code from {}",
    "Add automated tests for {}",
    "Split {} out of the monolith",
    "Migrate the batch job for {}",
    "Retire the old API of {}",
)


# --- Delivery: how each stream deploys and recovers -----------------------------------------------


@dataclass(frozen=True)
class DeliverySpec:
    """A stream's pipeline over the last DELIVERY_DAYS: chosen so that the streams land in
    different DORA levels and the portfolio has something to compare."""

    services: tuple[str, ...]
    per_week: float  # production deployments a week
    failure_rate: float  # share of production deployments that fail
    incident_rate: float  # share of successful ones that cause an incident anyway
    restore_hours: float  # median time to restore service
    commit_hours: float  # median hours from an item's first commit to its finish
    staging: bool = True  # whether each release goes to staging first


DELIVERY_DAYS = 120
DELIVERY = {
    "retail-payments": DeliverySpec(("payments-api", "payments-web", "standing-orders"), 9, 0.03, 0.01, 0.6, 6),
    "card-services": DeliverySpec(("cards-api", "card-controls"), 3.5, 0.06, 0.02, 5, 20),
    "mortgages-online": DeliverySpec(("mortgage-journey", "affordability"), 0.8, 0.12, 0.03, 30, 90),
    "home-insurance-claims": DeliverySpec(("claims-portal", "claims-engine"), 1.5, 0.2, 0.04, 16, 60),
    "motor-insurance-quotes": DeliverySpec(("quote-engine", "pricing"), 5, 0.05, 0.02, 2.5, 12),
    "customer-identity": DeliverySpec(("login", "identity-verification"), 2.5, 0.04, 0.01, 0.8, 30, False),
    "data-analytics-platform": DeliverySpec(("pipelines", "warehouse"), 0.4, 0.3, 0.05, 120, 300),
    "regulatory-reporting": DeliverySpec(("returns-builder",), 0.3, 0.1, 0.0, 48, 400, False),
}
INCIDENTS_UNATTRIBUTED_PER_WEEK = 0.15  # incidents whose cause is not a deployment (or not known)
INCIDENT_TITLES = (
    "Error rate above threshold on {service}",
    "{service} slow for a share of customers",
    "Timeouts calling {service}",
    "{service} returning stale data",
    "Failed health checks on {service}",
)
