"""The local cloud: the AWS backbone of the diagram on one machine, from pip packages alone."""
