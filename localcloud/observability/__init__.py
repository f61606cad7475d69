"""The local CloudWatch: metrics from EMF, AWS/SQS metrics, alarms evaluated as CloudWatch does, a dashboard.

moto stores metrics and alarms but extracts no EMF, publishes no AWS/SQS metrics and never evaluates an
alarm. One background worker of ``nox -s up`` (``python -m localcloud.observability.worker``) does:

- **agent** (agent.py): listens for EMF documents on UDP, as the CloudWatch agent does on 25888; every
  service sends there (``SHOP_METRICS_SINK=udp://127.0.0.1:<port>``, set by ``up``). It keeps the raw values
  (percentiles need them) and puts them into the emulator with PutMetricData.
- **poller** (poller.py): every queue's and DLQ's depth and oldest-message age, as AWS/SQS metrics.
- **evaluator** (evaluator.py): every alarm of the emulator, with CloudWatch's period, M of N and
  missing-data rules; a state change is SetAlarmState plus CloudWatch's message to the alarm's actions.

``python -m localcloud.observability`` (``nox -s alarms``) prints the alarms' states and history and draws the
dashboard (dashboard.py). See docs/metrics-and-alarms.md. This module stays light: ``up`` imports it at start.
"""

from localcloud.observability.launch import start

__all__ = ["start"]
