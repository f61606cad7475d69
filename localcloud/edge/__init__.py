"""The local edge: the stand-in for WAF + CloudFront in front of the shop (see docs/edge.md).

- ``waf``: evaluates reference/waf.py's web ACL, the same rule objects cfn/waf.py renders;
- ``managed``: approximations of the AWS managed rule groups the web ACL enables;
- ``cache``: a CloudFront-like cache driven by reference/edge.py's cache policies;
- ``logs``: access lines in CloudFront's real-time log field format, and WAF decision logs;
- ``origins``: the S3 buckets and the API gateway behind it;
- ``app``: the front door's ASGI application (``localcloud.frontdoor`` is its entry point), which joins
  ``proxy`` (``/api/*``), ``static`` (the buckets through the cache), ``headers`` (the response
  headers policy), ``responses``, ``exchange`` (an access line's fields) and ``local`` (``/healthz``, ``/_edge/*``).
"""
