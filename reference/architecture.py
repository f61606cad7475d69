"""The diagram of docs/architecture-seed.md as data: node by node, arrow by arrow.

Node ids are the mermaid ids, so a test can check this module against the diagram
source and fail on any box or arrow that one has and the other has not.
"""

from reference.model import Architecture, Edge, Layer, Node

N = Node
L = Layer

NODES = (
    N("U", "Customers (web / mobile)", L.CLIENT),
    # edge / frontend
    N("R53", "Route 53 (DNS)", L.EDGE, "AWS::Route53"),
    N("WAF", "WAF", L.EDGE, "AWS::WAFv2"),
    N("CF", "CloudFront (CDN)", L.EDGE, "AWS::CloudFront"),
    N("S3FE", "S3 (static web assets)", L.EDGE, "AWS::S3"),
    N("ALB", "Application Load Balancer (EKS ingress)", L.EDGE, "AWS::ElasticLoadBalancingV2"),
    # the EKS cluster
    N("IN", "Ingress controller", L.EKS),
    N("API", "API gateway service (BFF / API)", L.EKS),
    N("CATALOG", "Catalog service", L.EKS),
    N("SEARCH", "Search service", L.EKS),
    N("CART", "Cart service", L.EKS),
    N("CHECKOUT", "Checkout service", L.EKS),
    N("ORDER", "Order service", L.EKS),
    N("USER", "User/profile service", L.EKS),
    N("PAY", "Payment orchestrator", L.EKS),
    N("NOTIF", "Notification service", L.EKS),
    N("RECO", "Recommendations service", L.EKS),
    N("EVT", "Event publisher (transactional outbox relay)", L.EKS),
    # managed data stores
    N("AUR", "Aurora PostgreSQL (orders / users)", L.DATA, "AWS::RDS"),
    N("DDB", "DynamoDB (carts / sessions)", L.DATA, "AWS::DynamoDB"),
    N("REDIS", "ElastiCache Redis (caching / rate limits)", L.DATA, "AWS::ElastiCache"),
    N("OPENSEARCH", "OpenSearch (product / search index)", L.DATA, "AWS::OpenSearchService"),
    N("S3MEDIA", "S3 (media: product images)", L.DATA, "AWS::S3"),
    # messaging
    N("SNS", "SNS (topics)", L.MESSAGING, "AWS::SNS"),
    N("SQS", "SQS (queues)", L.MESSAGING, "AWS::SQS"),
    N("DLQ", "DLQ (dead-letter queues)", L.MESSAGING, "AWS::SQS"),
    # security
    N("COG", "Cognito (authN / authZ)", L.SECURITY, "AWS::Cognito"),
    N("SECRETS", "Secrets Manager", L.SECURITY, "AWS::SecretsManager"),
    N("KMS", "KMS", L.SECURITY, "AWS::KMS"),
    # observability
    N("CW", "CloudWatch logs / metrics", L.OBSERVABILITY, "AWS::CloudWatch"),
    N("XR", "X-Ray tracing", L.OBSERVABILITY, "AWS::XRay"),
    # analytics
    N("KDS", "Kinesis Data Streams / Firehose", L.ANALYTICS, "AWS::Kinesis"),
    N("DLAKE", "S3 data lake", L.ANALYTICS, "AWS::S3"),
    N("GLUE", "Glue catalog / ETL", L.ANALYTICS, "AWS::Glue"),
    N("ATH", "Athena", L.ANALYTICS, "AWS::Athena"),
    N("QS", "QuickSight", L.ANALYTICS, "AWS::QuickSight"),
)

E = Edge

EDGES = (
    # edge
    E("U", "R53", "the shop's name resolves to CloudFront"),
    E("R53", "WAF", "every request is inspected by the web ACL"),
    E("WAF", "CF", "allowed requests reach the CDN"),
    E("CF", "S3FE", "the single-page app's HTML, CSS and JS"),
    E("CF", "ALB", "/api/* goes to the cluster"),
    E("ALB", "IN", "target group of the ingress"),
    E("IN", "API", "every API call enters through the BFF"),
    # the BFF calls every service
    E("API", "CATALOG", "categories, products, inventory"),
    E("API", "SEARCH", "search and type-ahead"),
    E("API", "CART", "cart reads and writes"),
    E("API", "CHECKOUT", "checkout with an Idempotency-Key"),
    E("API", "ORDER", "order history"),
    E("API", "USER", "sign-up, sign-in, profile, addresses"),
    E("API", "PAY", "payment status"),
    E("API", "NOTIF", "sent notifications"),
    E("API", "RECO", "bought together, popular"),
    # events leave through the outbox
    E("ORDER", "EVT", "order events"),
    E("CHECKOUT", "EVT", "checkout events"),
    E("PAY", "EVT", "payment events"),
    # data
    E("CATALOG", "AUR", "products, categories, inventory"),
    E("USER", "AUR", "profiles and address books"),
    E("ORDER", "AUR", "orders and their history"),
    E("CART", "DDB", "carts and guest sessions"),
    E("API", "REDIS", "response cache and rate limits"),
    E("SEARCH", "OPENSEARCH", "the product index"),
    E("CATALOG", "S3MEDIA", "product images are uploaded"),
    E("CF", "S3MEDIA", "product images are served"),
    # messaging
    E("EVT", "SNS", "publish with an event_type attribute"),
    E("SNS", "SQS", "fan-out through filter policies"),
    E("SQS", "NOTIF", "order and payment events become e-mails"),
    E("SQS", "RECO", "orders feed co-purchase counts"),
    E("SQS", "ORDER", "payment events move orders along"),
    E("SQS", "DLQ", "after maxReceiveCount failed receives"),
    # security
    E("U", "COG", "customers sign up and sign in"),
    E("API", "COG", "token verification against the pool's JWKS"),
    E("API", "SECRETS", "credentials read at start"),
    E("SECRETS", "KMS", "secrets are encrypted with the KMS key"),
    # observability
    E("CF", "CW", "CDN metrics and logs"),
    E("ALB", "CW", "load balancer metrics and logs"),
    E("EKS", "CW", "container logs and metrics"),
    E("EKS", "XR", "traces"),
    # analytics
    E("CF", "KDS", "real-time access logs"),
    E("API", "KDS", "clickstream events"),
    E("KDS", "DLAKE", "Firehose delivers to the lake"),
    E("DLAKE", "GLUE", "tables over the lake"),
    E("GLUE", "ATH", "queries through the Glue catalog"),
    E("ATH", "QS", "dashboards"),
)

# Subgraphs that are themselves the source of an arrow (EKS --> CW, EKS --> XR).
GROUPS = {"EKS": Layer.EKS}

ARCHITECTURE = Architecture(nodes=NODES, edges=EDGES, groups=GROUPS)
