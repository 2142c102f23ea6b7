"""Publishing alerts to the SNS topic.

One publish per message with ``MessageStructure=json``, the body built by the ``encode`` it is given
(:func:`service.logic.envelope.encode`: e-mail, JSON document and chat form). Failures propagate:
the handler turns them into a failed invocation, so Lambda retries it and finally hands the
untouched payload to the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable

from service.dal.clients import Clients
from service.models.views import Message


class Publisher:
    def __init__(self, clients: Clients, topic_arn: str, *, encode: Callable[[Message], str]) -> None:
        self._clients = clients
        self._topic_arn = topic_arn
        self._encode = encode

    def publish(self, message: Message) -> str:
        response = self._clients.sns.publish(
            TopicArn=self._topic_arn,
            Subject=message.subject,
            Message=self._encode(message),
            MessageStructure="json",
            MessageAttributes={
                key: {"DataType": "String", "StringValue": value} for key, value in message.attributes.items()
            },
        )
        return str(response.get("MessageId", ""))
