"""Download parameters every survey client shares (none of them changes scientific products)."""

from __future__ import annotations

from virtualobserver.domain.parameters import Param

__all__ = ["http_specs"]


def http_specs(
    base_url: str, *, rate_limit_per_s: float, max_concurrency: int, timeout_s: float = 60.0,
    max_answer_mb: float = 100.0, deadline_s: float = 600.0,
) -> dict[str, Param]:
    """Return the parameter specifications of a survey's download block.

    Parameters
    ----------
    base_url : str
        Default root URL of the archive; relative request paths are joined to it.
    rate_limit_per_s : float
        Default request rate allowed for the archive (0 means unlimited).
    max_concurrency : int
        Default number of requests in flight at once to the archive.
    timeout_s : float
        Default read timeout of one request (seconds).
    max_answer_mb : float
        Default largest answer (MB, after decompression): the survey's biggest real
        answers with a wide margin.
    deadline_s : float
        Default longest time of one request in all, headers and body (seconds).

    Returns
    -------
    dict of str to Param
        ``base_url``, ``timeout_s``, ``deadline_s``, ``max_answer_mb``, ``retries``,
        ``backoff_s``, ``backoff_max_s``, ``max_retry_after_s``, ``rate_limit_per_s``,
        ``max_concurrency`` and ``offline``, all with ``science=False`` so they never
        change a version.

    Examples
    --------
    >>> specs = http_specs("https://example.org", rate_limit_per_s=5, max_concurrency=4)
    >>> specs["retries"].default, specs["offline"].science
    (5, False)
    """
    return {
        "base_url": Param(base_url, str, "Root URL of the archive service.", science=False),
        "timeout_s": Param(float(timeout_s), float, "Seconds to wait for the archive before a request times out.",
                           minimum=0.001, maximum=3600.0, science=False),
        "deadline_s": Param(float(deadline_s), float, "Longest time one request may take in all, however slowly "
                            "the answer trickles in (timeout_s bounds each wait only); longer counts as a timeout "
                            "and is retried.", minimum=0.001, maximum=86400.0, science=False),
        "max_answer_mb": Param(float(max_answer_mb), float, "Largest answer accepted (MB, counted after "
                               "decompression while it streams); a larger one is refused at the limit, not "
                               "retried and not cached.", minimum=0.001, maximum=1e6, science=False),
        "retries": Param(5, int, "Retries of a request after a transient failure (timeout, 429, 5xx, cut answer).",
                         minimum=0, maximum=100, science=False),
        "backoff_s": Param(1.0, float, "Base of the exponential backoff between retries (seconds).",
                           minimum=0.0, maximum=3600.0, science=False),
        "backoff_max_s": Param(60.0, float, "Longest backoff between two retries (seconds).",
                               minimum=0.0, maximum=86400.0, science=False),
        "max_retry_after_s": Param(600.0, float, "Longest Retry-After the archive may ask for; longer gives up.",
                                   minimum=0.0, maximum=86400.0, science=False),
        "rate_limit_per_s": Param(float(rate_limit_per_s), float,
                                  "Requests per second to the archive, over all threads, Dask workers and runs "
                                  "on the project database (0 = unlimited).",
                                  minimum=0.0, maximum=1e6, science=False),
        "max_concurrency": Param(int(max_concurrency), int, "Requests in flight at once to the archive, over all "
                                 "threads, Dask workers and runs on the project database.",
                                 minimum=1, maximum=1024, science=False),
        "offline": Param(False, bool, "Use only the raw-answer cache; never contact the archive.", science=False),
    }
