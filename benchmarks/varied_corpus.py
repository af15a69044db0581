"""A raw UltraChat corpus with realistic variety, unlike ``distill_data.synthetic`` (the bundled sample's style).

``synthetic`` repeats a few dozen templates, so every cheap test sees the same strings and caches or screens
tuned on it look better than they are. Here prompts and replies are assembled word by word from a vocabulary
of a few hundred words and sentence frames, in the shapes real chat data takes: questions with context,
whole prompts in lowercase ("hey, i was wondering ..."), code (fenced, inline, unclosed fences, identifiers,
file names), URLs and e-mail addresses, abbreviations, ellipses, numbered lists, prompts in 16 other
languages (some written without accents, some mixed with English), short prompts, re-cased duplicates,
mojibake, HTML entities, disclaimers, empty turns and unanswered turns. The same ``(n, seed)`` always gives
the same rows.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from typing import Any

NOUNS = (
    "system budget garden network recipe engine library teacher student market river climate protein habit "
    "database server function variable framework museum village contract invoice battery sensor vaccine "
    "language novel poem melody painting camera telescope bridge tunnel harbor festival election policy tax "
    "startup investor customer employee manager interview resume portfolio algorithm dataset model pipeline "
    "kitchen bicycle marathon muscle injury diet vitamin sleep memory emotion friendship neighborhood city "
    "forest desert glacier volcano ocean species insect bird soil fertilizer harvest wheat coffee chocolate "
    "spreadsheet presentation deadline meeting schedule routine journal podcast website browser password "
    "encryption protocol router satellite rocket planet galaxy particle molecule enzyme cell organ therapy "
    "hospital insurance mortgage loan pension salary inflation currency trade tariff supply warehouse truck"
).split()
VERBS = (
    "improve reduce explain compare design build test measure organize plan protect share review write read "
    "train learn teach support prevent increase manage choose avoid combine replace describe analyze predict "
    "schedule clean repair install configure deploy debug optimize translate summarize negotiate invest save "
    "grow harvest cook bake paint record publish market sell rent borrow recycle"
).split()
ADJECTIVES = (
    "simple complex reliable cheap expensive modern ancient local global efficient healthy risky popular rare "
    "practical creative sustainable digital manual remote public private urban rural seasonal daily annual "
    "technical emotional financial legal medical historical scientific cultural social personal quick slow "
    "small large young experienced careful curious"
).split()
ADVERBS = "quickly carefully often rarely usually safely easily slowly regularly exactly roughly mostly".split()
PEOPLE = "beginners students parents nurses farmers developers retirees teenagers managers artists travelers".split()
NAMES = "Maria Ahmed Chen Olivia Raj Sofia Lukas Amara Diego Yuki Hannah Omar".split()
PLACES = "Kenya Peru Norway Vietnam Canada Portugal Ghana Chile Poland Japan Texas Bavaria".split()
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "Dr.", "approx.", "a.m.", "p.m.", "U.S.", "No.")
FRAMES = (
    "The {adj} {noun} can {verb} the {noun2} if you {verb2} it {adv}.",
    "Most {people} {verb} their {noun} {adv}, which is why the {noun2} matters.",
    "In {place}, {people} have used {adj} {noun}s to {verb} {noun2}s for decades.",
    "A {adj} approach is to {verb} one {noun} at a time and {verb2} the results.",
    "There are {num} ways to {verb} a {noun}: {verb2} it, {verb3} it, or replace it with a {adj} {noun2}.",
    "According to {name}, the {noun} should be {adv} {verb}ed before the {noun2} is {verb2}ed.",
    "It is worth noting that {adj} {noun}s are not always better than {adj2} ones.",
    "When you {verb} the {noun}, remember that the {noun2} will {verb2} as well.",
    "This is {adv} the case for {people}, e.g. those who {verb} a {noun} every day.",
    "The cost was approx. ${num},000 in {year}, i.e. about {pct}% of the {noun} budget.",
    "If the {noun} fails, check the {noun2} first; it is {adv} the cause.",
    "Why does the {noun} {verb} the {noun2}? Because the {adj} {noun3} cannot {verb2} on its own.",
    "Dr. {name} found that {pct}% of {people} {verb} their {noun} at 7 a.m. or earlier.",
    "Some {people} prefer {adj} {noun}s, others want something {adj2}... it depends on the {noun2}.",
    "You can read more at https://www.{noun}-{noun2}.org/{verb}/guide or write to {lname}@{noun}.com.",
    "The {noun} (also called the {adj} {noun2}) was first described in {year}.",
    "Open the file {noun}_{noun2}.py and call {verb}_{noun}() before you {verb2} anything else.",
    "Studies from {place} vs. {place2} show that {adj} {noun}s {verb} {noun2}s {adv}.",
    "Try to {verb} the {noun}, then {verb2} the {noun2}, and finally {verb3} the {noun3}.",
    "Even a {adj} {noun} needs a {adj2} {noun2} to {verb} well.",
)
QUESTIONS = (
    "How can I {verb} my {noun} without spending too much?",
    "What is the difference between a {adj} {noun} and a {adj2} {noun2}?",
    "Can you explain how {noun}s {verb} {noun2}s?",
    "Why do {people} struggle to {verb} their {noun}?",
    "Write a {adj} story about a {noun} that wants to {verb} the {noun2}.",
    "What are the best ways to {verb} a {noun} in {place}?",
    "Could you give me a plan to {verb} my {noun} in {num} weeks?",
    "Is it safe to {verb} a {noun} with a {adj} {noun2}?",
    "Summarize the pros and cons of {adj} {noun}s for {people}.",
    "Which {noun} should I choose if I want to {verb} {adv}?",
    "Generate a list of {num} {adj} ideas to {verb} a {noun}.",
    "Describe the history of the {noun} in {place}.",
)
CONTEXTS = (
    "I'm a {adj} {noun} manager and I need help.",
    "My friend {name} told me that {noun}s are {adj}, but I am not sure.",
    "We are planning a trip to {place} next year.",
    "I have been trying to {verb} my {noun} for {num} months now.",
    "Our team uses a {adj} {noun} and it keeps failing.",
    "I read an article about {adj} {noun}s yesterday.",
)
CASUAL = (
    "hey, i was wondering if you could help me {verb} my {noun}. i tried it {adv} but it didn't work",
    "so i've got a {adj} {noun} and i'm not sure how to {verb} it. any ideas?",
    "ok thanks. what if i {verb} the {noun2} first?",
    "can u explain {noun}s to me like i'm five",
    "i think the {noun} is {adj}. is that true? i'd like to know more",
    "lol that's {adj}. can you make it shorter and more {adj2}",
    "my {noun} keeps breaking. i'll try again tomorrow but what should i check first?",
    "yeah i know. but why do {people} {verb} {noun}s so {adv}?",
)
SHORT = ("Continue.", "Thanks!", "Why?", "Hi", "ok", "More please", "Tell me more.", "And then?", "Go on")
FOLLOW_UPS = (
    "That helps. Can you give a concrete example with a {noun}?",
    "What would change if I used a {adj} {noun} instead?",
    "Could you rewrite that as a checklist for {people}?",
    "How long does it usually take to {verb} a {noun}?",
    "Can you translate the last paragraph into {lang}?",
    "What sources support this?",
)
FOREIGN = {
    "fr": (
        "Pouvez-vous m'expliquer comment fonctionne le système immunitaire ?",
        "Je voudrais apprendre à cuisiner des plats végétariens simples pour toute la famille.",
        "Quelles sont les meilleures façons d'économiser de l'argent quand on est étudiant ?",
        "Mon ordinateur est très lent depuis la dernière mise à jour, que dois-je faire ?",
        "Écrivez un court poème sur la mer et les bateaux de pêche au lever du soleil.",
    ),
    "de": (
        "Wie kann ich meine Zeit besser einteilen, wenn ich von zu Hause aus arbeite?",
        "Erkläre mir bitte den Unterschied zwischen Wetter und Klima.",
        "Welche Pflanzen wachsen gut auf einem Balkon, der nach Norden zeigt?",
        "Ich möchte im nächsten Jahr einen Marathon laufen und brauche einen Trainingsplan.",
        "Schreibe eine kurze Geschichte über einen Hund, der sich im Wald verirrt.",
    ),
    "es": (
        "¿Cuáles son los beneficios de cultivar verduras en casa?",
        "Necesito ayuda para escribir una carta de presentación para un trabajo de enfermería.",
        "¿Cómo puedo aprender a programar si nunca he escrito una línea de código?",
        "Explícame por qué el cielo es azul durante el día y rojo al atardecer.",
        "Dame una receta fácil de tortilla de patatas para cuatro personas.",
    ),
    "it": (
        "Quali sono i vantaggi dell'energia rinnovabile rispetto ai combustibili fossili?",
        "Vorrei organizzare un viaggio in Sicilia per due settimane in primavera.",
        "Come posso migliorare la mia pronuncia inglese senza un insegnante?",
        "Scrivi una breve descrizione di una città di mare in inverno.",
    ),
    "pt": (
        "Quais são as principais causas do desmatamento na Amazônia?",
        "Como posso preparar um orçamento mensal para a minha família?",
        "Explique de forma simples o que é inteligência artificial.",
        "Estou a aprender guitarra e gostaria de saber quais músicas são mais fáceis.",
    ),
    "nl": (
        "Hoe kan ik mijn tuin klaarmaken voor de winter?",
        "Wat zijn de voordelen van fietsen naar het werk in plaats van de auto te nemen?",
        "Schrijf een korte tekst over de geschiedenis van Amsterdam.",
    ),
    "ru": (
        "Расскажите, пожалуйста, об истории Древнего Рима.",
        "Как научиться программировать на Python с нуля за три месяца?",
        "Какие книги вы бы посоветовали для изучения экономики?",
        "Объясните, почему зимой дни короче, чем летом.",
    ),
    "zh": (
        "请解释一下光合作用的过程以及它对地球生态系统的重要性。",
        "我想学习做中国菜，应该从哪些简单的菜开始？",
        "如何提高自己的英语口语水平？",
        "请写一首关于秋天的短诗。",
    ),
    "ja": (
        "日本の四季について簡単に説明してください。",
        "プログラミングを始めたいのですが、どの言語がおすすめですか？",
        "健康的な朝ごはんのアイデアを教えてください。",
    ),
    "ko": (
        "서울에서 가볼 만한 곳을 추천해 주세요.",
        "건강하게 살을 빼는 방법을 알려 주세요.",
        "한국어를 배우는 가장 좋은 방법은 무엇인가요?",
    ),
    "ar": (
        "ما هي فوائد شرب الماء بانتظام؟",
        "اكتب لي قصة قصيرة عن صياد في البحر.",
        "كيف يمكنني تحسين مهاراتي في الكتابة؟",
    ),
    "tr": (
        "İstanbul'da görülmesi gereken yerler nelerdir?",
        "Sağlıklı bir kahvaltı için ne önerirsiniz?",
        "Bana yapay zekanın nasıl çalıştığını basitçe anlatır mısın?",
    ),
    "pl": (
        "Jak mogę nauczyć się gotować zdrowe posiłki na cały tydzień?",
        "Opisz krótko historię Krakowa i jego najważniejsze zabytki.",
        "Jakie są zalety pracy zdalnej dla rodziców małych dzieci?",
    ),
    "sv": (
        "Hur kan jag spara pengar till en resa nästa sommar?",
        "Berätta om de vanligaste fåglarna i svenska skogar.",
    ),
    "vi": (
        "Làm thế nào để học tiếng Anh hiệu quả tại nhà?",
        "Hãy giới thiệu một số món ăn truyền thống của Việt Nam.",
    ),
    "id": (
        "Bagaimana cara membuat kopi yang enak di rumah tanpa mesin?",
        "Apa saja manfaat olahraga pagi untuk kesehatan mental?",
        "Tolong jelaskan perbedaan antara cuaca dan iklim dengan bahasa yang sederhana.",
    ),
}
LANGUAGE_NAMES = ("French", "German", "Spanish", "Italian", "Portuguese", "Japanese", "Korean", "Polish")
CODE = {
    "python": (
        "def {verb}_{noun}(items, limit=10):\n    result = []\n    for item in items[:limit]:\n"
        "        if item.{noun2}_id is not None:\n            result.append(item)\n    return result\n"
    ),
    "javascript": (
        "const {noun}s = await fetch('/api/{noun}s').then((r) => r.json());\n"
        "{noun}s.forEach(({noun2}) => console.log({noun2}.name));\n"
    ),
    "sql": "SELECT {noun}_id, COUNT(*) AS n\nFROM {noun2}s\nWHERE created_at > '2023-01-01'\nGROUP BY {noun}_id;\n",
    "bash": "pip install {noun}-tools\ncd ~/projects/{noun2} && python -m {noun}.cli --verbose\n",
    "java": (
        "public class {Noun}Service {{\n    private final {Noun2}Repository repo;\n"
        "    public int count() {{ return repo.size(); }}\n}}\n"
    ),
}
CODE_ASKS = (
    "Why does this code fail with a KeyError?",
    "can you make this faster? i think the loop is the problem",
    "Please review the following snippet and explain what it does.",
    "Convert this to TypeScript and add comments.",
    "this is my script, it works locally but not on the server:",
)
DISCLAIMERS = (
    "As an AI language model, I don't have personal opinions, but here is an overview.",
    "I don’t have personal experiences, but many people report the following.",
    "I do not have feelings, so I cannot say how it feels.",
    "As an AI assistant, I cannot browse the internet.",
)


def _fill(rng: random.Random, frame: str) -> str:
    """One frame with every slot drawn from the vocabulary."""
    noun = rng.choice(NOUNS)
    return frame.format(
        noun=noun,
        noun2=rng.choice(NOUNS),
        noun3=rng.choice(NOUNS),
        Noun=noun.capitalize(),
        Noun2=rng.choice(NOUNS).capitalize(),
        verb=rng.choice(VERBS),
        verb2=rng.choice(VERBS),
        verb3=rng.choice(VERBS),
        adj=rng.choice(ADJECTIVES),
        adj2=rng.choice(ADJECTIVES),
        adv=rng.choice(ADVERBS),
        people=rng.choice(PEOPLE),
        name=rng.choice(NAMES),
        lname=rng.choice(NAMES).lower(),
        place=rng.choice(PLACES),
        place2=rng.choice(PLACES),
        lang=rng.choice(LANGUAGE_NAMES),
        num=rng.randint(2, 12),
        pct=rng.randint(3, 97),
        year=rng.randint(1850, 2023),
    )


def _prose(rng: random.Random, sentences: int) -> str:
    return " ".join(_fill(rng, rng.choice(FRAMES)) for _ in range(sentences))


def _code_block(rng: random.Random, closed: bool = True) -> str:
    language = rng.choice(sorted(CODE))
    return f"```{language}\n{_fill(rng, CODE[language])}" + ("```" if closed else "")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _foreign(rng: random.Random) -> tuple[str, str]:
    lang = rng.choice(sorted(FOREIGN))
    text = " ".join(rng.sample(FOREIGN[lang], rng.randint(1, min(3, len(FOREIGN[lang])))))
    return lang, text


def _prompt(rng: random.Random) -> tuple[str, str | None]:
    """A first user turn and, for a non-English one, its language (so the replies can follow it)."""
    roll = rng.random()
    if roll < 0.07:
        lang, text = _foreign(rng)
        style = rng.random()
        if style < 0.25 and lang in ("fr", "de", "es", "it", "pt", "pl", "tr", "vi"):
            text = _strip_accents(text)  # typed without accents: all ASCII, still not English
        elif style < 0.35:
            text = text + " " + _fill(rng, rng.choice(QUESTIONS))  # mixed
        return text, lang
    if roll < 0.19:
        text = " ".join(_fill(rng, rng.choice(CASUAL)) for _ in range(rng.randint(1, 3)))
        return text, None
    if roll < 0.27:
        ask = rng.choice(CODE_ASKS)
        closed = rng.random() > 0.1
        text = f"{ask}\n\n{_code_block(rng, closed)}"
        if closed and rng.random() < 0.5:
            text += "\n\n" + _fill(rng, rng.choice(QUESTIONS))
        return text, None
    if roll < 0.32:
        return rng.choice(SHORT), None
    if roll < 0.37:
        document = _prose(rng, rng.randint(8, 25))  # a long pasted text: more than prefix_chars
        return f"Summarize the following text in three sentences:\n\n{document}", None
    text = _fill(rng, rng.choice(QUESTIONS))
    if rng.random() < 0.5:
        text = _fill(rng, rng.choice(CONTEXTS)) + " " + text
    if rng.random() < 0.3:
        text += " " + _prose(rng, rng.randint(1, 3))
    if rng.random() < 0.15:
        text = text[0].lower() + text[1:]
    return text, None


def _reply(rng: random.Random, lang: str | None) -> str:
    if lang is not None and rng.random() < 0.8:
        return "\n\n".join(_foreign_paragraph(rng, lang) for _ in range(rng.randint(1, 4)))
    parts = [_prose(rng, rng.randint(1, 3))]
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if kind < 0.35:
            parts.append("\n".join(f"{k}. {_prose(rng, rng.randint(1, 2))}" for k in range(1, rng.randint(3, 7))))
        elif kind < 0.45:
            parts.append(_code_block(rng) + "\n\n" + f"Run it with `python {rng.choice(NOUNS)}.py`.")
        elif kind < 0.5:
            parts.append(f"## {rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)}s\n\n{_prose(rng, 2)}")
        else:
            parts.append(_prose(rng, rng.randint(2, 6)))
    text = "\n\n".join(parts)
    if rng.random() < 0.05:
        text = text.replace(". T", ". t").replace(". A", ". a")  # lowercase sentence starts in a reply
    return text


def _foreign_paragraph(rng: random.Random, lang: str) -> str:
    return " ".join(rng.choice(FOREIGN[lang]) for _ in range(rng.randint(2, 5)))


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


def varied_ultrachat_rows(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``n`` raw UltraChat rows ``{"id", "data"}`` of varied text; the same ``(n, seed)`` gives the same rows."""
    rng = random.Random(seed)
    prompts: list[str] = []
    for i in range(n):
        if prompts and rng.random() < 0.04:
            prompt, lang = rng.choice(prompts), None
            if rng.random() < 0.5:
                prompt = prompt.upper() if rng.random() < 0.5 else "  " + prompt.lower() + "\n"
        else:
            prompt, lang = _prompt(rng)
            prompts.append(prompt)
        turns = [prompt]
        for _ in range(rng.randint(1, 5)):
            reply = _reply(rng, lang)
            if rng.random() < 0.03:
                reply = rng.choice(DISCLAIMERS) + " " + reply
            turns.append(reply)
            if rng.random() > 0.65:
                break
            roll = rng.random()
            if lang is not None and roll < 0.7:
                follow = _foreign(rng)[1] if rng.random() < 0.2 else rng.choice(FOREIGN[lang])
            elif roll < 0.3:
                follow = _fill(rng, rng.choice(CASUAL))
            elif roll < 0.4:
                follow = rng.choice(SHORT)
            else:
                follow = _fill(rng, rng.choice(FOLLOW_UPS))
            turns.append(follow)
        roll = rng.random()
        if roll < 0.02:
            turns[1] = _mojibake(turns[1])
        elif roll < 0.04:
            turns[0] = turns[0].replace(" and ", " &amp; ", 1) + " &quot;thanks&quot;"
        elif roll < 0.05:
            turns[-1] = "  \n"
        elif roll < 0.06:
            turns = turns[:1]
        yield {"id": f"v{seed}-{i}", "data": turns}
