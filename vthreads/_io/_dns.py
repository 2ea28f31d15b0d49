"""Name resolution off the carrier.

The system resolver (glibc's getaddrinfo: /etc/hosts, nsswitch, DNS) is a
blocking C call.  Each function here runs the real one on the to_thread
helper pool and parks the caller, so resolving never stalls a carrier, a
cancel scope can abandon a slow lookup, and /etc/hosts and the system
configuration keep working exactly as before.  No home-made resolver.

``_resolver`` maps each name to the real function; tests replace entries
to simulate a slow resolver.

Threads: any.
"""

from .. import _originals as _o
from .._core import to_thread

_resolver = {
    "getaddrinfo": _o.getaddrinfo,
    "gethostbyname": _o.gethostbyname,
    "gethostbyname_ex": _o.gethostbyname_ex,
    "gethostbyaddr": _o.gethostbyaddr,
    "getnameinfo": _o.getnameinfo,
}


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    return to_thread(_resolver["getaddrinfo"], host, port, family, type,
                     proto, flags)


def gethostbyname(hostname):
    return to_thread(_resolver["gethostbyname"], hostname)


def gethostbyname_ex(hostname):
    return to_thread(_resolver["gethostbyname_ex"], hostname)


def gethostbyaddr(ip_address):
    return to_thread(_resolver["gethostbyaddr"], ip_address)


def getnameinfo(sockaddr, flags):
    # Bad arguments fail here, in the caller, as the C function fails: an
    # error raised on a helper would hold the arguments in its traceback.
    if not isinstance(sockaddr, tuple):
        del sockaddr      # nor may this frame, held by the traceback
        raise TypeError("getnameinfo() argument 1 must be a tuple")
    if not isinstance(flags, int):
        raise TypeError("'%s' object cannot be interpreted as an integer"
                        % type(flags).__name__)
    return to_thread(_resolver["getnameinfo"], sockaddr, flags)


def is_numeric_host(host):
    for family in (2, 10):       # AF_INET, AF_INET6
        try:
            _o.inet_pton(family, host.split("%", 1)[0])
            return True
        except (OSError, ValueError, TypeError):
            pass
    return False
