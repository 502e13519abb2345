"""Purls of application components (SARIF and CycloneDX name the JARs of running processes by
them), compared with packageurl-python's encoding."""

from __future__ import annotations

import pytest
from packageurl import PackageURL

from patchwarden.cli.purl import component_purl
from patchwarden.core.app_instances import AppComponent


@pytest.mark.parametrize(
    ("ecosystem", "name", "version", "expected"),
    [
        ("Maven", "com.alibaba:fastjson", "1.2.24",
         PackageURL("maven", "com.alibaba", "fastjson", "1.2.24")),
        ("Maven", "org.springframework:spring-beans", "5.2.19.RELEASE",
         PackageURL("maven", "org.springframework", "spring-beans", "5.2.19.RELEASE")),
        ("PyPI", "Requests", "2.30.0", PackageURL("pypi", None, "requests", "2.30.0")),
        ("npm", "@babel/core", "7.0.0+x", PackageURL("npm", "@babel", "core", "7.0.0+x")),
        ("npm", "lodash", "4.17.19", PackageURL("npm", None, "lodash", "4.17.19")),
    ],
)  # fmt: skip
def test_component_purls_agree_with_packageurl_python(
    ecosystem: str, name: str, version: str, expected: PackageURL
) -> None:
    component = AppComponent("/x.jar", ecosystem, name, version)
    assert component_purl(component) == expected.to_string()


def test_a_component_without_ecosystem_or_version_is_generic() -> None:
    assert component_purl(AppComponent("/x", "", "tomcat", "")) == "pkg:generic/tomcat"
    assert component_purl(AppComponent("/x", "Maven", "log4j-core", "2.0")) == (
        "pkg:maven/log4j-core@2.0"
    )
