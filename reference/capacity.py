"""Capacity: what one pod is given (its CPU request) and, from the measured curve, how many pods a peak needs.

The pod request is what the rendered Deployments ask for (cfn/k8s.py) and what the local cloud
gives each replica as a CPU quota (``SHOP_CPU_QUOTA=request``), so a local replica is the same
quarter-CPU machine as a pod on EKS.
"""

from __future__ import annotations

POD_CPU_REQUEST = "250m"
POD_CPU_MILLICORES = 250
POD_MEMORY_REQUEST = "256Mi"
POD_MEMORY_LIMIT = "512Mi"
