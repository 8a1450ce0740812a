"""Step 4 and 5 · Targeting and delivery: which post goes to whom, when, and through which channel.

``targeting`` matches segments with templates, channels and hours and plans the week; ``outbox``
keeps every post's state from draft to published; ``channels`` holds one module per social
network behind one protocol (a new channel goes there). May import: content, audience, intake
and the base; no later step.
"""
