"""Events out: the outbox relay that publishes violations, review decisions and coverage changes.

The store writes each event into the `outbox` table in the transaction of the change it describes
(`pipeline.store.outbox`); `relay.Relay` sends them to MQTT (`mqtt.MqttSink`) and/or webhooks
(`webhook.WebhookSink`) and marks them sent only once every sink acknowledged.
"""
