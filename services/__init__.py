"""The ten microservices of the EKS box, and the pattern they share (``services.common``)."""
