"""Scenes the demo plays, one module per feature, each `async def scene(demo) -> None`."""
