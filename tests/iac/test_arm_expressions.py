"""ARM template expression functions, each evaluated as a real template would use it."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.iac import arm_expr
from scanner.iac.arm_expr import Context, ExpressionError, Unevaluable, evaluate_string

RG_ID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/template-resource-group"


def ctx(**parameters: Any) -> Context:
    variables = {"base": "mlw", "tags": {"env": "prod"}}
    context = Context(parameters=parameters, variables=variables)
    context.evaluate_variable = lambda name: variables[name]
    context.copy_index = {"": 2, "nics": 4}
    return context


CASES: list[tuple[str, Any]] = [
    ("[parameters('name')]", "ws"),
    ("[variables('base')]", "mlw"),
    ("[variables('tags').env]", "prod"),
    ("[concat('a', 'b', parameters('name'))]", "abws"),
    ("[concat(createArray(1, 2), createArray(3))]", [1, 2, 3]),
    ("[format('{0}-{1}-{0}', 'x', 7)]", "x-7-x"),
    ("[toLower('MiXeD')]", "mixed"),
    ("[toUpper('MiXeD')]", "MIXED"),
    ("[resourceId('Microsoft.KeyVault/vaults', 'kv1')]", f"{RG_ID}/providers/Microsoft.KeyVault/vaults/kv1"),
    (
        "[resourceId('Microsoft.Web/sites/config', 'app', 'web')]",
        f"{RG_ID}/providers/Microsoft.Web/sites/app/config/web",
    ),
    (
        "[resourceId('rg-other', 'Microsoft.Storage/storageAccounts', 'st1')]",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-other/providers/"
        "Microsoft.Storage/storageAccounts/st1",
    ),
    (
        "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'abc')]",
        "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/abc",
    ),
    ("[resourceGroup().name]", "template-resource-group"),
    ("[resourceGroup().location]", arm_expr.PLACEHOLDER_LOCATION),
    ("[subscription().subscriptionId]", arm_expr.PLACEHOLDER_SUBSCRIPTION),
    ("[if(equals(parameters('env'), 'prod'), 'Disabled', 'Enabled')]", "Disabled"),
    ("[if(equals(parameters('env'), 'dev'), 'Disabled', 'Enabled')]", "Enabled"),
    ("[equals('ABC', 'abc')]", True),
    ("[equals(1, 2)]", False),
    ("[not(equals(1, 2))]", True),
    ("[and(true(), equals(1, 1), not(false()))]", True),
    ("[or(false(), equals(1, 2))]", False),
    ("[empty('')]", True),
    ("[empty(createArray())]", True),
    ("[empty(createObject('a', 1))]", False),
    (
        "[union(createObject('a', 1, 'n', createObject('x', 1)), createObject('b', 2, 'n', createObject('y', 2)))]",
        {"a": 1, "n": {"x": 1, "y": 2}, "b": 2},
    ),
    ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
    ("[createObject('k', 'v', 'n', 3)]", {"k": "v", "n": 3}),
    ("[createArray('a', 1, true())]", ["a", 1, True]),
    ("[copyIndex()]", 2),
    ("[copyIndex(1)]", 3),
    ("[copyIndex('nics')]", 4),
    ("[copyIndex('nics', 10)]", 14),
    ("[length(createArray(1, 2, 3))]", 3),
    ("[contains(createArray('a', 'b'), 'b')]", True),
    ("[string(5)]", "5"),
    ("[int('42')]", 42),
    ("[bool('true')]", True),
    ("[replace('a-b-c', '-', '_')]", "a_b_c"),
    ("[substring('abcdef', 1, 3)]", "bcd"),
    ("[coalesce(null(), 'x')]", "x"),
    ("[last(split('a/b/c', '/'))]", "c"),
    ("[[literal]", "[literal]"),
    ("plain text", "plain text"),
    ("[concat('it''s', ' ok')]", "it's ok"),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_expression_function(expression: str, expected: Any) -> None:
    assert evaluate_string(expression, ctx(name="ws", env="prod")) == expected


def test_unique_string_is_deterministic_13_lowercase_characters() -> None:
    first = evaluate_string("[uniqueString(resourceGroup().id, 'ml')]", ctx())
    again = evaluate_string("[uniqueString(resourceGroup().id, 'ml')]", ctx())
    other = evaluate_string("[uniqueString(resourceGroup().id, 'other')]", ctx())
    assert first == again != other
    assert len(first) == 13 and first == first.lower() and first.isalnum()


def test_if_evaluates_only_the_chosen_branch() -> None:
    assert evaluate_string("[if(true(), 'ok', reference('outside').x)]", ctx()) == "ok"


@pytest.mark.parametrize(
    "expression",
    [
        "[reference('outside-the-template').primaryEndpoints.blob]",
        "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'st'), '2023-01-01').keys[0].value]",
        "[utcNow()]",
        "[someFunctionNobodyKnows('x')]",
        "[equals(reference('x').state, 'on')]",
    ],
)
def test_what_cannot_be_known_offline_is_unevaluable(expression: str) -> None:
    with pytest.raises(Unevaluable):
        evaluate_string(expression, ctx())


@pytest.mark.parametrize(
    "expression", ["[concat('a']", "[parameters('missing')]", "[format('{0}')]", "[concat('a') x]"]
)
def test_malformed_expressions_are_errors_not_markers(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate_string(expression, ctx())


def test_secure_parameter_value_never_leaks_through_string_functions() -> None:
    context = ctx(pw=arm_expr.secure("pw"))
    for expression in ("[concat('Password=', parameters('pw'))]", "[format('pwd={0}', parameters('pw'))]"):
        assert evaluate_string(expression, context) == arm_expr.secure("pw")


def test_runtime_properties_of_a_declared_resource_are_unevaluable() -> None:
    context = ctx()
    context.resource_ids = {"/x/identity": {"properties": {"tags": {}}}}
    with pytest.raises(Unevaluable):
        evaluate_string("[reference('/x/identity', '2023-01-31').clientId]", context)
