"""resrepro: a reproducible-research pipeline that re-runs and audits
"Enhancing Image Classification Performance Through Deep Residual Learning Networks"
(Arslan, Zhang, Hossein, 2025) on CIFAR-10.

Stages, each one module, data flowing one way:
data -> models -> train -> evaluate -> analysis -> figures -> report
"""

__version__ = "0.1.0"


class ResreproError(RuntimeError):
    """An error the user can act on. The message names the problem and the fix."""
