"""The web ACL's regex pattern sets: what an attack looks like once WAF's transformations have decoded it.

Each set is at most 10 expressions of at most 200 characters in the subset of PCRE that AWS WAF
runs (no capturing groups, lookaround or backreferences; reference.waf.check_patterns checks).
The expressions read text that is already URL-, JavaScript- and HTML-entity-decoded and lower
case, so they name syntax, not spellings. They are written for the shop's fields: a search box
or a review holds prose with quotes, brackets, ``&`` and ``;``, so an expression needs the
structure of an attack (a shell operator *followed by a command*, a quote *followed by a
tautology*), never a lone keyword.
"""

from __future__ import annotations

import base64

# Shell: an operator, then a command; command substitution; $IFS; shellshock; interpreters by path.
_OP = r"(?:[;|`]|&&|\|\||\$\(|&)[ \t]*"
_END = r"(?:\.exe)?(?:[\s;|&<>`$)'\"]|$)"
CODE = (
    _OP + r"(?:cat|ls|id|dir|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|ksh|ping|nslookup|getent|echo)" + _END,
    _OP
    + r"(?:rm|chmod|python[23]?|perl|ruby|php|powershell|cmd|sleep|busybox|tftp|telnet|base64|env|ifconfig|net)"
    + _END,
    r"\$\{?ifs\b|\$\(\s*[a-z][\w-]*[\s)]|`\s*(?:[a-z]+(?:\s+-|\s*`)|/)|\(\)\s*\{\s*:?\s*;?\s*\}\s*;|/bin/(?:ba|z|da|k|c)?sh\b"
    r"|[;|`&]\s*/(?:usr/)?s?bin/"
    r"|\bcmd(?:\.exe)?\s+/c\b|\|\s*set\s+/a\b",
    # PHP and other interpreters' code.
    r"<\?(?:php|=)|\b(?:eval|assert|system|passthru|shell_exec|exec|popen|proc_open|include|require|phpinfo|md5"
    r"|print|file_get_contents|base64_decode)\(|\$\{@|\$_(?:get|post|request|server|cookie)\b",
    r"\b(?:php|phar|zip|expect|data|glob|jar|netdoc|gopher|dict|ldap|rmi|dns|tftp)://|\bfile:/|!!python/"
    r"|\bexecute\s*\(|\"\s*&\s*\"[a-z]|__import__|__class__|__globals__|__builtins__|__subclasses__",
    # Templates (SSTI) and expression languages (JNDI, OGNL, SpEL).
    r"\{\{[^}]{0,80}\}\}|\$\{[^}]{0,80}\}|#\{[^}]{0,80}\}|\{%[^%]{0,80}%\}|<#(?:assign|include|import)\b|<%=|\*\{[^}]"
    r"{0,80}\}|%\{[^}]{0,80}\}",
    # Java class names and serialised objects.
    r"java\.(?:lang|io|net|util)\.|javax\.|\bclass\.forname|getruntime\(|processbuilder|\.getclass\(|ysoserial"
    r"|ro0ab|aced0005|org\.(?:apache|springframework)\.|com\.sun\.|freemarker\.|class\.module\.",
    # NoSQL operators and server-side JavaScript.
    r"[{,\[\s'\"]\s*['\"]?\$(?:where|ne|eq|gt|gte|lt|lte|in|nin|regex|exists|or|and|nor|not|expr|elemmatch)['\"]?"
    r"\s*[:\]]|\bdb\.[a-z_]+\.[a-z]+\(|(?:^|[;{}])\s*var\s+[a-z_$][\w$]*\s*=|\}\s*while\s*\(",
    # LDAP filters (an attribute test after the operator: a random password holds (&( too).
    r"\(\s*[&|!]\s*\(\s*[\w.-]+\s*[=~<>]|\*\s*\)\s*\(+\s*[|&!]?\s*[\w.-]+\s*[=~<>]|\(\s*[a-z]+\s*=\s*\*\s*\)"
    r"|userpassword|objectclass\s*=|:\d+(?:\.\d+){3,}:=",
    # XML external entities and includes (XML as such is not an attack).
    r"<!entity\b|<!doctype\b[^>]{0,200}(?:\[|\bsystem\b|\bpublic\b)|<xi:include\b|<xs:include\b|xmlns:xi\s*="
    r"|encoding\s*=\s*[\"']?utf-7",
)

WEB = (
    # SQL: UNION SELECT through comments; sub-selects; the functions of blind and error-based injection.
    r"\bunion(?:\s|/\*[^*]{0,20}\*/|/\*!?\d*|\*/|\(|\+)*(?:all\s+|distinct\s+)?(?:\s|/\*!?\d*|\()*select\b"
    r"|\(\s*select\b|\bselect\s*\(|\bselect\s+(?:\*|@@|\d+\s*,|null\b)",
    r"\b(?:sleep|benchmark|pg_sleep|extractvalue|updatexml|load_file|json_extract|json_depth|json_keys"
    r"|group_concat|xp_cmdshell|sp_executesql|fn_varbintohexstr|dbms_\w+|utl_\w+|randomblob)\s*\(",
    r"\binformation_schema\b|\bsysobjects\b|\bpg_catalog\b|\bsqlite_master\b|@@version\b|\binto\s+(?:out|dump)file"
    r"|\bwaitfor\s+delay\b|\bdeclare\s+@\w|\bexec(?:ute)?\s+(?:master|xp_|sp_)",
    # Tautologies: a quote, bracket or number, an operator, then a comparison of two operands ("10 and is it" passes).
    r"['\"`)\d][ \t]*(?:or|and|xor|\|\||&&)\s+(?:not\s+)?['\"\(]?\w*['\"]?\s*(?:=|<>|!=|<=|>=)\s*[-'\"\(\w]"
    r"|['\"`)\d][ \t]*(?:or|and)\s+(?:true|false|null)\s*(?:--|#|/\*|;|\)|[\"&]|$)|/\*!\d*",
    r";\s*(?:drop\s+(?:table|database)|truncate\s+table|shutdown|insert\s+into|delete\s+from|declare\s+@|update\s+\w+\s+set)\b"
    r"|['\")]\s*;\s*select\b|\b(?:order\s+by|having)\s+\d+\s*(?:--|#|$|=)",
    # A quote closed then commented out (admin'--), and LIKE between literals.
    r"[\w)]['\"](?:--|#|/\*)|[\w)]['\"][ \t]+(?:--|#)[ \t]*[-+]?[ \t]*(?:[\"&}]|$)"
    r"|(?:['\"]\w*['\"]|\b\d+)\s+r?like\s+['\"\d]",
    # Script in markup: tags that run script, event handlers in a tag or after a quote, script URLs.
    r"<(?:script|iframe|object|embed|svg|math|frameset|applet|base|meta|link|style|template|isindex)\b|<[a-z]*\x00"
    r"|(?:<[^>]*[\s/\"'+]|[\"'`](?:\s|/)*)on[a-z]{3,}\s*=",
    r"j(?:\s|&\w+;)*a(?:\s|&\w+;)*v(?:\s|&\w+;)*a(?:\s|&\w+;)*s(?:\s|&\w+;)*c(?:\s|&\w+;)*r(?:\s|&\w+;)*i(?:\s|&\w+;)"
    r"*p(?:\s|&\w+;)*t(?:\s|&\w+;)*(?::|&colon;)\S|vbscript:|data:text/html",
    r"\b(?:alert|confirm|prompt)(?:\s*`|\(|\?\.|\.call\b|\.apply\b|\)\s*\(|&(?:amp;)?lpar)|\b(?:eval|atob|setinterval"
    r"|settimeout|fromcharcode|fetch)\s*\(",
    # Paths out of the web root, files an attacker wants, and schemes that read them.
    r"(?:\.|%2e|%c0%ae|\xc0\xae|0x2e){2}(?:[/\\\x00\xc8]|%2f|%5c|%u221[56]|%c0%af|\xc0\xaf|\xc1\x9c|0x2f|0x5c|;/)"
    r"|/etc/(?:\./|/)*(?:passwd|shadow|group|hosts|issue|sudoers|crontab)|/proc/(?:self|\d+)/",
)

# Where a request may not point the shop's servers (SSRF), header splitting (CRLF, mail commands), and the
# files an attacker wants (a set holds at most 10 expressions: these did not fit web-injection).
NETWORK = (
    r"\\\\[^\\]{1,30}\\[a-z]\$|(?:boot|win|system)\.ini\b|tuser\.dat|\\windows\\|system32|/\.ssh/|id_rsa|\.htpasswd"
    r"|wp-config|web\.config|/\.git/|/\.env\b|/var/log/|/(?:web|meta)-inf\b",
    r"169\.254\.169\.254|metadata\.google\.internal|fd00:ec2::254|100\.100\.100\.200|metadata\.azure|\[::ffff:"
    r"|\binstance-data\b",
    r"(?:https?|ftp|gopher|dict|ldap|tftp|smb|ws)://(?:[^/@\s]*@)?(?:localhost|127\.|\d{1,3}(?:\.\d{1,3}){3}"
    r"|0+(?:[:/]|$)|\[|0x[0-9a-f]+|0?\d{8,11}(?:[:/]|$)|0[0-7]+\.\d)",
    r"burpcollaborator\.net|\.oast\.(?:me|fun|live|site|online|pro)|interact\.sh|oastify\.com|\.dnslog\.cn"
    r"|\.ceye\.io|\.ngrok\.io|requestbin\.|pipedream\.net|\.nip\.io|\.xip\.io|localtest\.me",
    # Script reaching for the page (XSS without markup), GraphQL introspection (the shop has no GraphQL).
    r"document\s*(?:\.\s*(?:cookie|domain|write)|\[)|\.constructor\(|__proto__|\b__schema\b|introspectionquery",
    # Enclosed alphanumerics in a host name (ⓛⓞⓒⓐⓛⓗⓞⓢⓣ); server-side includes.
    r"://[^/\s]{0,40}\xe2[\x91-\x93][\x80-\xbf]|<!--\s*#\s*(?:exec|include|echo|config|set|printenv|fsize|flastmod)\b",
    r"(?:[\r\n]|\xe5\x98[\x8a\x8d]|%0[ad])\s*(?:set-cookie|location|content-(?:type|length)|refresh|host"
    r"|transfer-encoding|access-control-[a-z-]+|x-[a-z-]+)\s*:",
    # Serialised PHP objects; an LDAP filter closed and reopened.
    r"\b[oc]:\d+:\"[a-z_\\]+\":\d+:\{|\)\s*\(\s*[&|!]\s*\)|\)\s*\(\s*\|\s*\(|['\"]\s*;\s*return\s",
    r"[\r\n]\s*(?:rcpt\s+to|mail\s+from)\s*:|[\r\n]\s*(?:bcc|cc)\s*:\s*[^\s@]+@|[\r\n]\s*(?:quit|data)\s*(?:[\r\n]|$)"
    r"|[\r\n]\s*[a-z]\d{1,4}\s+(?:capability|fetch|login|select|list|logout)\b",
)

# Files nobody but an attacker asks for by their extension (a path's end).
RESTRICTED_EXTENSIONS = (
    r"\.(?:sql|bak|backup|old|orig|swp|sqlite3?|db|mdb|log|ini|conf|cfg|env|pem|key|htaccess|htpasswd)$"
)

# Vulnerability scanners, fuzzers and exploit kits as their user agents name them (lower case).
SCANNERS = (
    r"nessus|nmap|nikto|sqlmap|masscan|zgrab|dirbuster|gobuster|feroxbuster|wpscan|acunetix|netsparker|nuclei|w3af"
    r"|openvas|havij|fimap|zmeu|jorgee|morfeus|paros|webshag|whatweb|wfuzz|fuzz faster u fool|ffuf|\.nasl\b"
    r"|arachni|skipfish|appscan|burp ?suite|commix|xsstrike|dalfox|jaeles|interactsh|qualys|nettacker"
)

# Attack syntax as it reads once Base64-encoded, at each of the three byte alignments: a payload
# Base64-encoded anywhere (a form field, a path segment) shows these runs without any decoding,
# which WAF cannot do on a form body or a path (BASE64_DECODE needs the value alone). Tokens a sentence
# or a URL holds ("SELECT ", "curl ", "http://", "confirm") are left out: Base64 of ordinary text would match.
BASE64_TOKENS = (
    "<script", "<svg", "<img", "<iframe", "<body", "<video", "javascript:", "onerror=", "onload=", "onfocus=",
    "alert(", "prompt(", "confirm(", "document.", "eval(", "<!--#", "<!ENTITY", "<!DOCTYPE",
    "union select", "UNION SELECT", "select(", "sleep(", "information_schema", "xp_cmdshell",
    "DECLARE @", "' or ", "' OR ", "JSON_", "/etc/passwd", "../", "..\\", "c$\\", "${jndi",
    "<?php", "{{", "${", "#{", "<#assign", "$where", "$or", "new Date", "while(", "(&(",
    "(|(", "objectclass", "userPassword", "/bin/", "getent", "$IFS", "&& ", "; cat ",
    "\nRCPT", "Set-Cookie", "CAPABILITY", "QUIT\r\n",
    "(prompt", "(alert", "(confirm", "prompt`", "alert`", ".call(", ".apply(", "window.", "set /a",
    ";wget", "|wget", "wget http", "curl http", ".insert(", ".find(", "</script", "src=http",
)  # fmt: skip


def base64_cores(token: str) -> tuple[str, ...]:
    """The runs of Base64 that encode ``token`` whatever its offset: one per byte alignment."""
    data = token.encode()
    cores = []
    for align in range(3):
        encoded = base64.b64encode(b"\0" * align + data + b"\0\0").decode()
        first = -(-8 * align // 6)  # the first character made only of the token's bits
        last = (8 * (align + len(data)) - 6) // 6  # the last one
        cores.append(encoded[first : last + 1])
    return tuple(c for c in cores if len(c) >= 4)


def _escape(core: str) -> str:
    return core.replace("+", "\\+")


def base64_patterns(tokens: tuple[str, ...] = BASE64_TOKENS, width: int = 200) -> tuple[str, ...]:
    """The tokens' cores packed into alternations of at most ``width`` characters."""
    alternatives = sorted({_escape(c) for t in tokens for c in base64_cores(t)})
    patterns: list[str] = []
    current: list[str] = []
    for alt in alternatives:
        if current and len("|".join([*current, alt])) > width:
            patterns.append("|".join(current))
            current = []
        current.append(alt)
    if current:
        patterns.append("|".join(current))
    return tuple(patterns)
