"""Mentions the inbox tests share: a question, a complaint and praise, as customers write them."""

from __future__ import annotations

QUESTION = "hey, how many days does shipping take to Hangzhou?"
COMPLAINT = "Two weeks and my refund still hasn't arrived. Really disappointed with your service"
PRAISE = "Just finished my first bag of your granola, absolutely delicious! Thank you"
