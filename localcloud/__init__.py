"""The local cloud: the AWS backbone of the diagram on one machine, from pip packages alone."""

import time

STARTED = time.time()  # psutil's process create time is rounded to the clock tick of boot time: too coarse
