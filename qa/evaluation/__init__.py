"""Evaluation: scoring answers for faithfulness, citation quality, retrieval and refusal."""
