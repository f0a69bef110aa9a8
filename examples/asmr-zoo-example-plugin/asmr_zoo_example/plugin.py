"""The hooks. Components are registered as "module:attr" strings so listing them does not import torch."""

from asmr_zoo import hookimpl


@hookimpl
def register_models(register):
    register("bigram", "asmr_zoo_example.components:BigramModel", "P(x_t | x_{t-1}): a 256x256 table, for demos")


@hookimpl
def register_samplers(register):
    register("min-p", "asmr_zoo_example.components:MinPSampler", "keep classes with p >= min_p * max p")


@hookimpl
def register_codecs(register):
    register("linear8", "asmr_zoo_example.components:Linear8", "8-bit linear PCM, 256 classes")


@hookimpl
def register_commands(app):
    @app.command("example-hello")
    def hello(name: str = "world") -> None:
        """Say hello from the example plugin (shows that plugins can add commands)."""
        print(f"hello {name} from asmr-zoo-example-plugin")
