"""Deterministic generators of realistic raw rows, for tests, notebooks, samples and benchmarks.

Rows follow the raw UltraChat schema exactly (``{"id": str, "data": [user, assistant, ...]}``) and carry
the defects the real corpus has, at fixed rates: assistant disclaimers (straight and curly apostrophes),
lowercase sentence starts and a lowercase "i", mojibake, HTML entities, non-English prompts, duplicate
prompts (exact and re-cased), empty turns, a user turn left unanswered, code blocks and URLs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from .presets import ASPECTS

TOPICS = [
    "cross training",
    "compound interest",
    "photosynthesis",
    "the French Revolution",
    "machine learning",
    "container gardening",
    "public speaking",
    "the water cycle",
    "remote work",
    "urban beekeeping",
    "marathon training",
    "sourdough baking",
    "climate adaptation",
    "small business marketing",
    "jazz improvisation",
    "sleep hygiene",
    "renewable energy",
    "medieval architecture",
    "personal budgeting",
    "coral reef ecology",
    "data visualization",
    "language learning",
    "the immune system",
    "supply chain logistics",
    "watercolor painting",
    "version control",
    "meditation",
    "electric vehicles",
    "ancient Rome",
    "home composting",
]
GROUPS = ["beginners", "students", "runners", "small teams", "retirees", "parents", "engineers", "artists"]
OPENERS = [
    "How can {topic} help {group}?",
    "What are the most common mistakes {group} make with {topic}?",
    "Can you explain {topic} in simple terms?",
    "Write a short guide to {topic} for {group}.",
    "What is the history of {topic}, and why does it matter today?",
    "I'm curious about {topic}. Where should {group} start?",
    "Summarize the main arguments for and against {topic}.",
    "Give me a step-by-step plan to get better at {topic} in three months.",
]
FOLLOW_UPS = [
    "That makes sense. Can you give me a concrete example?",
    "Thanks! How much time should I set aside for this each week?",
    "What resources would you recommend for learning more?",
    "Could you make that shorter, as a checklist?",
    "Interesting. How does this compare with what people did twenty years ago?",
    "What would you say is the single most important point?",
]
SENTENCES = [
    "It works best when you start small and build a routine you can keep.",
    "Many people underestimate how much consistency matters compared with intensity.",
    "Research over the last decade points in the same direction, although the details vary.",
    "A useful rule of thumb is to change only one thing at a time, so you can see what helped.",
    "Keep a short log of what you tried and how it went; patterns appear after a few weeks.",
    "The cost is usually lower than expected, especially if you reuse what you already have.",
    "Experts disagree on the finer points, but the fundamentals are well established.",
    "For example, a fifteen-minute session three times a week already makes a measurable difference.",
    "It’s worth asking someone with experience to review your plan before you commit to it.",
    "Avoid the temptation to compare your progress with others; everyone starts from a different place.",
]
DISCLAIMERS = [
    "As an AI language model, I don't have personal opinions, but here is a summary.",
    "I don’t have personal experiences, but many people report the following.",
    "I do not have emotions, so I cannot say how it feels.",
    "As an AI language model, I cannot browse the internet.",
    "I don't have personal beliefs on this topic.",
]
FOREIGN_PROMPTS = [
    "Pouvez-vous m'expliquer comment fonctionne le système immunitaire et pourquoi il est si important ?",
    "Wie kann ich meine Zeit besser einteilen, wenn ich von zu Hause aus arbeite und Kinder habe?",
    "¿Cuáles son los beneficios de cultivar verduras en casa y cómo puedo empezar este año?",
    "请解释一下光合作用的过程以及它对地球生态系统的重要性。",
    "Расскажите, пожалуйста, о истории Древнего Рима и о его влиянии на современную Европу.",
    "Quali sono i vantaggi dell'energia rinnovabile rispetto ai combustibili fossili per le famiglie?",
]
CODE_REPLY = (
    "Here is a minimal example:\n\n```python\nimport os\n\npath = os.path.join('data', 'setup.py')\n"
    "print(path)\n```\n\nRun it with `python example.py`. See https://docs.python.org/3/library/os.path.html "
    "for details."
)


def _mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252: the classic ``doesnâ€™t`` damage."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


def _lowercase_start(text: str) -> str:
    text = text[0].lower() + text[1:]
    return text.replace("I'm", "i'm").replace(" I ", " i ")


def _reply(rng: random.Random, topic: str) -> str:
    paragraphs = [f"{topic[0].upper()}{topic[1:]} is a broad subject, so here are the essentials."]
    for number in range(1, rng.randint(3, 6)):
        body = " ".join(rng.sample(SENTENCES, rng.randint(2, 4)))
        paragraphs.append(f"{number}. {body}")
    closing = rng.choice(SENTENCES)
    paragraphs.append("Overall, " + closing[0].lower() + closing[1:])
    return "\n\n".join(paragraphs)


def ultrachat_rows(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` raw UltraChat rows; the same ``(n, seed)`` always gives the same rows."""
    rng = random.Random(seed)
    prompts: list[str] = []
    for i in range(n):
        topic, group = rng.choice(TOPICS), rng.choice(GROUPS)
        roll = rng.random()
        if prompts and roll < 0.05:
            prompt = rng.choice(prompts)
            prompt = prompt if rng.random() < 0.5 else "  " + prompt.upper().replace(" ", "  ") + "\n"
        elif roll < 0.09:
            prompt = rng.choice(FOREIGN_PROMPTS)
        else:
            prompt = rng.choice(OPENERS).format(topic=topic, group=group) + f" (#{i})"
        prompts.append(prompt)
        if rng.random() < 0.15:
            prompt = _lowercase_start(prompt)
        turns = [prompt]
        for exchange in range(rng.randint(1, 4)):
            reply = CODE_REPLY if rng.random() < 0.05 else _reply(rng, topic)
            if rng.random() < 0.03:
                reply = rng.choice(DISCLAIMERS) + " " + reply
            turns.append(reply)
            if exchange < 3 and rng.random() < 0.6:
                follow_up = rng.choice(FOLLOW_UPS)
                turns.append(_lowercase_start(follow_up) if rng.random() < 0.2 else follow_up)
            else:
                break
        roll = rng.random()
        if roll < 0.03:
            turns[1] = _mojibake(turns[1])
        elif roll < 0.05:
            turns[0] = turns[0].replace(" and ", " &amp; ", 1) + " &quot;Thanks&quot;"
        elif roll < 0.06:
            turns[-1] = "   "
        elif roll < 0.07:
            turns = turns[:1]
        yield {"id": str(i), "data": turns}


UF_SOURCES = ["evol_instruct", "sharegpt", "ultrachat", "flan_v2_niv2", "flan_v2_cot", "false_qa", "truthful_qa"]
UF_MODELS = [
    "gpt-4",
    "gpt-3.5-turbo",
    "llama-2-70b-chat",
    "wizardlm-13b",
    "vicuna-33b",
    "alpaca-7b",
    "pythia-12b",
    "starchat",
    "falcon-40b-instruct",
    "mpt-30b-chat",
    "ultralm-65b",
    "bard",
]


def _uf_annotations(rng: random.Random, quality: float) -> dict[str, Any]:
    annotations = {}
    for aspect in ASPECTS:
        rating = "N/A" if rng.random() < 0.03 else str(min(5, max(1, round(quality + rng.gauss(0, 0.8)))))
        entry: dict[str, Any] = {"Rating": rating, "Rationale": f"The {aspect.replace('_', ' ')} is adequate."}
        if aspect in ("helpfulness", "truthfulness"):
            entry["Type"] = ["1", "2"] if aspect == "helpfulness" else ["0"]
            entry["Rationale For Rating"] = "Accurate and informative."
        annotations[aspect] = entry
    return annotations


def ultrafeedback_rows(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` raw openbmb/UltraFeedback rows; the same ``(n, seed)`` always gives the same rows.

    Mostly four completions with aspect ratings "1".."5" (3% "N/A"), many tied scores, an ``overall_score``
    from 1 to 10, a TruthfulQA share, and a few rows with fewer completions or an empty response.
    """
    rng = random.Random(seed)
    for i in range(n):
        topic = rng.choice(TOPICS)
        source = rng.choice(UF_SOURCES)
        instruction = rng.choice(OPENERS).format(topic=topic, group=rng.choice(GROUPS)) + f" (#{i})"
        count = 4 if rng.random() > 0.03 else rng.randint(1, 3)
        models = rng.sample(UF_MODELS, count)
        completions = []
        for model in models:
            quality = rng.uniform(1, 5)
            annotations = _uf_annotations(rng, quality)
            ratings = [int(a["Rating"]) for a in annotations.values() if a["Rating"] != "N/A"]
            response = "" if rng.random() < 0.01 else _reply(rng, topic)
            completions.append(
                {
                    "model": model,
                    "principle": rng.choice(["helpfulness", "honesty", "truthfulness", "verbalized_calibration"]),
                    "custom_system_prompt": "You are a helpful assistant.",
                    "response": response,
                    "annotations": annotations,
                    "critique": "The answer is clear but could be more specific.",
                    "overall_score": rng.choice([round(quality * 2, 1), float(round(quality * 2)), 10.0]),
                    "fine-grained_score": round(sum(ratings) / len(ratings), 2) if ratings else "N/A",
                }
            )
        yield {
            "source": source,
            "instruction": instruction,
            "models": models,
            "completions": completions,
            "correct_answers": ["None"],
            "incorrect_answers": ["None"],
        }
