"""The ``lbchannel`` command: ``call``, ``bench`` and ``watch`` over a load-balanced channel.

Installed as the console script ``lbchannel`` (and ``python -m lbchannel``)
with the ``cli`` extra: ``pip install 'lbchannel[cli]'`` (rich, protobuf,
grpcio-reflection, grpcio-tools). Example::

    lbchannel call dns:///greeter.internal:50051 /helloworld.Greeter/SayHello -d '{"name": "x"}'
    lbchannel call dns:///greeter.internal:50051 /chat.Room/Talk -d '{"line": "hi"} {"line": "bye"}'
    lbchannel bench ipv4:10.0.0.1:50051,10.0.0.2:50051 /helloworld.Greeter/SayHello -c 64 -z 30s
    lbchannel watch dns:///greeter.internal:50051 --rate 50

Modules, one job each: ``_main`` (parser, errors, exit status), ``_call``
(+ ``_call_streams`` for streaming methods),
``_bench`` (+ ``_bench_report``), ``_watch`` (+ ``_watch_view``, ``_events``),
``_reflection`` and ``_proto`` (message types), ``_schema`` (JSON <-> bytes),
``_parse`` (option values), ``_channel`` (the channel as the command sees it).
"""

from ._main import main

__all__ = ["main"]
