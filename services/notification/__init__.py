"""The notification service: templated e-mails (SES) for order and payment events, and a record of each one sent."""
