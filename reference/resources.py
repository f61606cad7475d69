"""The concrete AWS resources behind the diagram's boxes.

Logical names only; ``reference.model.physical_name`` turns them into deployed names.
The local cloud provisions exactly these, and the CloudFormation templates render them.
"""

from reference.model import (
    AppClient,
    Bucket,
    BucketRole,
    DeliveryStream,
    EmailSender,
    EventType,
    Key,
    KmsKey,
    Queue,
    Resources,
    Secret,
    Stream,
    Subscription,
    Table,
    Topic,
    UserPool,
)

TABLES = (
    Table(
        "carts",
        partition_key=Key("cart_id"),
        ttl_attribute="expires_at",
        purpose="one item per cart (user#<sub> or guest#<session>), lines in a map, version for optimistic locking",
    ),
    Table(
        "sessions",
        partition_key=Key("session_id"),
        ttl_attribute="expires_at",
        purpose="guest sessions; expired items are ignored on read because the emulator never expires them",
    ),
)

# Event names and versions; the payload schemas join them in the commerce-core issue.
ORDER_EVENTS = (
    EventType("OrderPlaced", 1, "an order was created in state pending"),
    EventType("OrderConfirmed", 1, "stock reserved and payment authorized"),
    EventType("OrderPaid", 1, "payment captured"),
    EventType("OrderFulfilled", 1, "shipped to the customer"),
    EventType("OrderCancelled", 1, "cancelled before fulfilment"),
    EventType("OrderRefunded", 1, "money returned"),
)
PAYMENT_EVENTS = (
    EventType("PaymentAuthorized", 1, "funds held"),
    EventType("PaymentCaptured", 1, "funds taken"),
    EventType("PaymentVoided", 1, "hold released"),
    EventType("PaymentRefunded", 1, "captured funds returned"),
    EventType("PaymentFailed", 1, "declined or timed out"),
)
CHECKOUT_EVENTS = (
    EventType("CheckoutCompleted", 1, "the saga confirmed an order"),
    EventType("CheckoutFailed", 1, "the saga compensated and gave up"),
)
CATALOG_EVENTS = (
    EventType("ProductChanged", 1, "a product was created or edited"),
    EventType("ProductDeleted", 1, "a product was removed"),
    EventType("StockChanged", 1, "available stock of a product changed"),
)

TOPICS = (
    Topic("order-events", ("order",), ORDER_EVENTS, "order lifecycle"),
    Topic("payment-events", ("payment",), PAYMENT_EVENTS, "payment attempts and outcomes"),
    Topic("checkout-events", ("checkout",), CHECKOUT_EVENTS, "saga outcomes"),
    Topic("catalog-events", ("catalog",), CATALOG_EVENTS, "product changes for the search index"),
)

QUEUES = (
    Queue("notification", consumer="notification", purpose="e-mails for order and payment events"),
    Queue("recommendations", consumer="recommendations", purpose="co-purchase counts from orders"),
    Queue("order-payments", consumer="order", purpose="payment outcomes move orders along"),
    Queue("search-indexer", consumer="search", purpose="catalog changes reach the search index"),
)

SUBSCRIPTIONS = (
    Subscription(
        "order-events",
        "notification",
        ("OrderConfirmed", "OrderCancelled", "OrderFulfilled", "OrderRefunded"),
    ),
    Subscription("payment-events", "notification", ("PaymentFailed", "PaymentRefunded")),
    Subscription("order-events", "recommendations", ("OrderConfirmed",)),
    Subscription("payment-events", "order-payments", ("PaymentCaptured", "PaymentRefunded")),
    Subscription("catalog-events", "search-indexer", ("ProductChanged", "ProductDeleted", "StockChanged")),
)

# Events no queue takes yet, and who is to read them: (event type, reader, what for). The analytics
# branch lands them in the data lake (SNS -> Firehose -> S3, beside the clickstream); until it does they
# are published and read by nobody, on purpose. Subscribing an event to a queue removes its line here
# (tests/unit/test_events_model.py holds the two apart and requires a reader for every event).
PLANNED_READERS = (
    ("OrderPlaced", "analytics", "orders started: the top of the purchase funnel"),
    ("OrderPaid", "analytics", "revenue by day and product, once the money is taken"),
    ("PaymentAuthorized", "analytics", "authorization rate per payment method"),
    ("PaymentVoided", "analytics", "holds released: compensated and abandoned checkouts"),
    ("CheckoutCompleted", "analytics", "checkout conversion"),
    ("CheckoutFailed", "analytics", "why checkouts fail, by reason"),
)

BUCKETS = (
    Bucket("static-site", BucketRole.STATIC_SITE, served_by_cloudfront=True, purpose="the SPA's assets"),
    Bucket("media", BucketRole.MEDIA, served_by_cloudfront=True, purpose="product images"),
    Bucket("data-lake", BucketRole.DATA_LAKE, purpose="Firehose output, queried by Athena through Glue"),
    Bucket("logs", BucketRole.LOGS, purpose="S3, CloudFront and ALB access logs"),
)

USER_POOL = UserPool(
    "users",
    clients=(
        AppClient("web", auth_flows=("ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")),
    ),
    groups=("admin",),
)

KMS_KEYS = (
    KmsKey(
        "main", "encrypts secrets, tables, queues, buckets, streams and the gateway's sessions", sealers=("gateway",)
    ),
)

SECRETS = (
    Secret(
        "database",
        kms_key="main",
        fields=("host", "port", "username", "password", "dbname", "engine"),
        readers=("catalog", "checkout", "order", "profile", "payment", "notification", "recommendations"),
        purpose="Aurora master credentials (local: the embedded server's)",
    ),
    Secret(
        "app-keys",
        kms_key="main",
        fields=("session_signing_key", "idempotency_hmac_key"),
        generated=("session_signing_key", "idempotency_hmac_key"),
        readers=("gateway", "cart", "checkout"),
        purpose="signing keys the services share",
    ),
)

STREAMS = (
    Stream("clickstream", shards=1, producers=("gateway",), purpose="API events for analytics"),
    Stream("edge-logs", shards=1, producers=("CF",), purpose="CloudFront real-time logs"),
)

DELIVERY_STREAMS = (
    DeliveryStream("clickstream-to-lake", "clickstream", "data-lake", "clickstream/"),
    DeliveryStream("edge-logs-to-lake", "edge-logs", "data-lake", "edge-logs/"),
)

EMAIL_SENDERS = (EmailSender("no-reply@shop.example.com"),)

RESOURCES = Resources(
    tables=TABLES,
    topics=TOPICS,
    queues=QUEUES,
    subscriptions=SUBSCRIPTIONS,
    buckets=BUCKETS,
    user_pool=USER_POOL,
    kms_keys=KMS_KEYS,
    secrets=SECRETS,
    streams=STREAMS,
    delivery_streams=DELIVERY_STREAMS,
    email_senders=EMAIL_SENDERS,
)
