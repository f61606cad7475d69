"""The Mailer port on Amazon SES (moto's SES locally: boto3 finds the endpoint in AWS_ENDPOINT_URL)."""

from __future__ import annotations

import asyncio

import boto3

from services.notification.domain import Email
from services.notification.ports import Mailer


class SesMailer(Mailer):
    def __init__(self, sender: str, region: str):
        self.sender = sender
        self.ses = boto3.client("ses", region_name=region)

    async def send(self, email: Email) -> str:
        result = await asyncio.to_thread(
            self.ses.send_email,
            Source=self.sender,
            Destination={"ToAddresses": [email.to]},
            Message={
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                },
            },
        )
        return result["MessageId"]

    def close(self) -> None:
        self.ses.close()
