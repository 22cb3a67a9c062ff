from storage.sql import Q, parse_queries


def test_parameters_become_numbered_binds_and_casts_survive():
    queries = parse_queries(
        "-- name: one\n-- a comment\nSELECT :a::text, :b, :a, 'x' FROM t WHERE c = :b;\n"
        "-- name: two\nUPDATE t SET x = :x\n"
    )
    assert queries["one"].sql == "SELECT $1::text, $2, $1, 'x' FROM t WHERE c = $2"
    assert queries["one"].params == ("a", "b")
    assert queries["two"].args({"x": 5}) == [5]


def test_missing_parameter_is_a_clear_error():
    import pytest

    with pytest.raises(TypeError, match="needs blind, context_policy, owner, title"):
        Q.create_conversation.args({})


def test_every_query_file_loads():
    names = {query.name for query in Q}
    assert {"create_conversation", "list_conversations", "applied_migrations"} <= names
