"""The engines that answer a turn: AIML, the state machines, the knowledge engines (FAQ, NLU,
documents), the language model, and the chain that asks them in a project's order."""
