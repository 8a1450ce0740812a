"""Step 5 and 6 · Feedback: how the posts did, and what people said back.

``results`` reads metrics of published posts and recommends the next template per segment;
``inbox`` sorts mentions by intent and suggests replies that go out through the outbox. May
import: delivery, content, audience, intake and the base.
"""
