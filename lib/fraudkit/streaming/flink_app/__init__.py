"""The Managed Service for Apache Flink application: the stream aggregator as generated Flink SQL.

`main.py` is the PyFlink program the application runs; `package.py` builds its zip (`make package`).
"""
