"""The Zephyr chat template, with ``{% generation %}`` markers so TRL can compute an assistant-only loss.

It renders exactly like the template HuggingFaceH4/zephyr-7b-beta ships (``<|user|>\\n...</s>\\n``): the
markers only tell ``apply_chat_template(return_assistant_tokens_mask=True)`` which tokens the assistant
wrote (its content and the closing ``</s>``, so the model learns to stop).
"""

ZEPHYR = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}"
    "{{ '<|user|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% elif message['role'] == 'system' %}"
    "{{ '<|system|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\\n' }}"
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% endif %}"
    "{% if loop.last and add_generation_prompt %}"
    "{{ '<|assistant|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
)

TEMPLATES = {"zephyr": ZEPHYR}
ZEPHYR_SPECIAL_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")


def resolve(template: str) -> str:
    """A template name (``zephyr``) or a Jinja template string."""
    return TEMPLATES.get(template, template)
