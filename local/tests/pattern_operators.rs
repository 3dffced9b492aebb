//! One suite per operator, with the examples from the EventBridge user guide and the
//! aws/event-ruler README: given a documented event and pattern, then the documented outcome.

use std::path::PathBuf;

use serde_json::{Value, json};
use trip_local::pattern::EventPattern;

fn fixture(name: &str) -> Value {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "patterns",
        name,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn matches(pattern: Value, event: &Value) -> bool {
    EventPattern::parse(&pattern)
        .unwrap_or_else(|e| panic!("pattern {pattern} should compile: {e}"))
        .matches(event)
}

fn ec2() -> Value {
    fixture("ruler-readme-ec2.json")
}

fn with_detail(detail: Value) -> Value {
    let mut event = ec2();
    event["detail"] = detail;
    event
}

mod exact {
    use super::*;

    #[test]
    fn documented_ec2_termination_pattern_matches_the_documented_event() {
        let event = fixture("ec2-terminated.json");
        let pattern = json!({
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            "detail": {"state": ["terminated"]}
        });
        assert!(matches(pattern, &event));
        assert!(!matches(json!({"detail": {"state": ["running"]}}), &event));
    }

    #[test]
    fn ruler_simple_match_with_array_intersection() {
        let pattern = json!({
            "detail-type": ["EC2 Instance State-change Notification"],
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
            "detail": {"state": ["initializing", "running"]}
        });
        assert!(matches(pattern, &ec2()));
    }

    #[test]
    fn any_value_of_the_leaf_array_may_match() {
        assert!(matches(
            json!({"source": ["aws.ec2", "aws.fargate"]}),
            &ec2()
        ));
        assert!(!matches(
            json!({"source": ["aws.s3", "aws.fargate"]}),
            &ec2()
        ));
    }

    #[test]
    fn all_fields_must_match() {
        assert!(!matches(
            json!({"source": ["aws.ec2"], "detail": {"state": ["stopped"]}}),
            &ec2()
        ));
    }

    #[test]
    fn strings_are_case_sensitive_and_not_normalised() {
        assert!(!matches(json!({"source": ["AWS.EC2"]}), &ec2()));
        assert!(!matches(json!({"source": [" aws.ec2"]}), &ec2()));
    }

    #[test]
    fn macie_numbers_match_by_value() {
        let event = fixture("macie-alert.json");
        let pattern = json!({
            "source": ["aws.macie"],
            "detail-type": ["Macie Alert"],
            "detail": {"risk-score": [80], "trigger": {"risk": [8]}}
        });
        assert!(matches(pattern, &event));
        assert!(!matches(json!({"detail": {"risk-score": [81]}}), &event));
    }

    #[test]
    fn numbers_compare_by_numeric_value() {
        let event = with_detail(json!({"price": 300}));
        assert!(matches(json!({"detail": {"price": [3.0e2]}}), &event));
        assert!(matches(json!({"detail": {"price": [300.0]}}), &event));
        assert!(!matches(json!({"detail": {"price": [300.5]}}), &event));
    }

    #[test]
    fn a_number_never_equals_its_string_form() {
        let event = with_detail(json!({"price": 300, "code": "300"}));
        assert!(!matches(json!({"detail": {"price": ["300"]}}), &event));
        assert!(!matches(json!({"detail": {"code": [300]}}), &event));
    }

    #[test]
    fn numbers_outside_the_numeric_range_match_exactly() {
        let event = with_detail(json!({"account-number": 123_456_789_012u64}));
        assert!(matches(
            json!({"detail": {"account-number": [123_456_789_012u64]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"account-number": [123_456_789_013u64]}}),
            &event
        ));
    }

    #[test]
    fn booleans_match_booleans_only() {
        let event = with_detail(json!({"flag": true, "text": "true"}));
        assert!(matches(json!({"detail": {"flag": [true]}}), &event));
        assert!(!matches(json!({"detail": {"flag": [false]}}), &event));
        assert!(!matches(json!({"detail": {"text": [true]}}), &event));
    }

    #[test]
    fn missing_field_never_matches_a_value() {
        assert!(!matches(json!({"detail": {"nope": ["x"]}}), &ec2()));
        assert!(!matches(json!({"nope": {"deeper": ["x"]}}), &ec2()));
    }

    #[test]
    fn an_object_in_the_event_does_not_match_a_leaf_value() {
        assert!(!matches(json!({"detail": ["running"]}), &ec2()));
    }

    #[test]
    fn a_nested_pattern_does_not_match_a_scalar() {
        assert!(!matches(json!({"source": {"inner": ["aws.ec2"]}}), &ec2()));
    }

    #[test]
    fn an_ip_literal_matches_the_same_address_written_differently() {
        let event = with_detail(json!({"ip": "2001:DB8:0:0:0:0:0:1"}));
        assert!(matches(json!({"detail": {"ip": ["2001:db8::1"]}}), &event));
        assert!(!matches(json!({"detail": {"ip": ["2001:db8::2"]}}), &event));
    }
}

mod null_and_empty {
    use super::*;

    #[test]
    fn documented_empty_string_pattern_matches_empty_string() {
        let event = fixture("autoscaling-launch.json");
        assert!(matches(json!({"detail": {"eventVersion": [""]}}), &event));
    }

    #[test]
    fn documented_null_pattern_matches_null() {
        let event = fixture("autoscaling-launch.json");
        let pattern = json!({
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Successful"],
            "detail": {"responseElements": [null]}
        });
        assert!(matches(pattern, &event));
    }

    #[test]
    fn null_and_empty_string_are_not_interchangeable() {
        let event = fixture("autoscaling-launch.json");
        assert!(!matches(
            json!({"detail": {"responseElements": [""]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"eventVersion": [null]}}),
            &event
        ));
    }

    #[test]
    fn null_does_not_match_an_absent_field() {
        let event = fixture("autoscaling-launch.json");
        assert!(!matches(json!({"detail": {"absent": [null]}}), &event));
    }

    #[test]
    fn empty_event_array_matches_no_value() {
        let event = fixture("autoscaling-launch.json");
        assert!(!matches(json!({"resources": [""]}), &event));
        assert!(!matches(json!({"resources": [null]}), &event));
    }
}

mod arrays {
    use super::*;

    #[test]
    fn documented_resources_intersection_matches() {
        let event = fixture("autoscaling-terminate-resources.json");
        let pattern = json!({"resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"
        ]});
        assert!(matches(pattern, &event));
        assert!(!matches(
            json!({"resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}),
            &event
        ));
    }

    #[test]
    fn ruler_array_of_objects_matches_any_element() {
        let event = fixture("ruler-readme-employees.json");
        assert!(matches(
            json!({"employees": {"firstName": ["Anna"]}}),
            &event
        ));
        assert!(!matches(
            json!({"employees": {"firstName": ["Zoe"]}}),
            &event
        ));
    }

    #[test]
    fn ruler_fields_must_match_within_one_array_element() {
        let event = fixture("ruler-readme-employees.json");
        assert!(!matches(
            json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
            &event
        ));
        assert!(matches(
            json!({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}),
            &event
        ));
    }

    #[test]
    fn exists_false_inside_an_array_of_objects_needs_an_element_without_the_field() {
        let all_have_it = json!({"a": [{"b": 1}, {"b": 2}]});
        let one_lacks_it = json!({"a": [{"b": 1}, {"c": 2}]});
        let scalars_only = json!({"a": [1, 2]});
        let pattern = json!({"a": {"b": [{"exists": false}]}});
        assert!(!matches(pattern.clone(), &all_have_it));
        assert!(matches(pattern.clone(), &one_lacks_it));
        assert!(matches(pattern, &scalars_only));
    }

    #[test]
    fn nested_arrays_are_crushed() {
        let event = json!({"employees": [[{"firstName": "John"}, {"firstName": "Anna"}], [{"firstName": "Peter"}]], "n": [[1, 2], [3]]});
        assert!(matches(
            json!({"employees": {"firstName": ["Peter"]}}),
            &event
        ));
        assert!(matches(json!({"n": [3]}), &event));
        assert!(!matches(json!({"n": [4]}), &event));
    }
}

mod prefix_suffix {
    use super::*;

    #[test]
    fn documented_time_prefix() {
        assert!(matches(json!({"time": [{"prefix": "2017-10-02"}]}), &ec2()));
        assert!(!matches(
            json!({"time": [{"prefix": "2017-10-03"}]}),
            &ec2()
        ));
    }

    #[test]
    fn documented_source_suffix() {
        assert!(matches(json!({"source": [{"suffix": "ec2"}]}), &ec2()));
        assert!(!matches(json!({"source": [{"suffix": "EC2"}]}), &ec2()));
    }

    #[test]
    fn documented_file_name_suffix() {
        let event = with_detail(json!({"FileName": "photo.png"}));
        assert!(matches(
            json!({"detail": {"FileName": [{"suffix": ".png"}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"FileName": [{"suffix": ".jpg"}]}}),
            &event
        ));
    }

    #[test]
    fn documented_prefix_ignore_case() {
        let event = with_detail(json!({"service": "EventBridge"}));
        assert!(matches(
            json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "eventx"}}]}}),
            &event
        ));
    }

    #[test]
    fn documented_suffix_ignore_case() {
        let event = with_detail(json!({"service": "EventBridge"}));
        assert!(matches(
            json!({"detail": {"service": [{"suffix": {"equals-ignore-case": "tBRIDGE"}}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"service": [{"suffix": {"equals-ignore-case": "bridges"}}]}}),
            &event
        ));
    }

    #[test]
    fn prefix_and_suffix_apply_to_strings_only() {
        let event = with_detail(json!({"n": 12345}));
        assert!(!matches(
            json!({"detail": {"n": [{"prefix": "12"}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"n": [{"suffix": "45"}]}}),
            &event
        ));
    }

    #[test]
    fn ignore_case_handles_non_ascii() {
        let event = with_detail(json!({"city": "ÉCOLE Zürich"}));
        assert!(matches(
            json!({"detail": {"city": [{"prefix": {"equals-ignore-case": "école"}}]}}),
            &event
        ));
        assert!(matches(
            json!({"detail": {"city": [{"suffix": {"equals-ignore-case": "ZÜRICH"}}]}}),
            &event
        ));
    }
}

mod equals_ignore_case {
    use super::*;

    #[test]
    fn documented_readme_example() {
        assert!(matches(
            json!({"source": [{"equals-ignore-case": "AWS.EC2"}]}),
            &ec2()
        ));
        assert!(!matches(
            json!({"source": [{"equals-ignore-case": "EC2"}]}),
            &ec2()
        ));
    }

    #[test]
    fn documented_name_alice() {
        let event = with_detail(json!({"Name": "Alice"}));
        assert!(matches(
            json!({"detail": {"Name": [{"equals-ignore-case": "alice"}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"Name": [{"equals-ignore-case": "alic"}]}}),
            &event
        ));
    }
}

mod wildcard {
    use super::*;

    #[test]
    fn documented_readme_example_does_not_match_ec2() {
        assert!(!matches(
            json!({"source": [{"wildcard": "Simple*Service"}]}),
            &ec2()
        ));
        let event = with_detail(json!({"svc": "SimpleQueueService"}));
        assert!(matches(
            json!({"detail": {"svc": [{"wildcard": "Simple*Service"}]}}),
            &event
        ));
    }

    #[test]
    fn star_matches_any_run_including_empty() {
        let event = with_detail(json!({"f": "dir/file.png"}));
        for yes in [
            "*",
            "dir/*",
            "*.png",
            "dir*file*png",
            "dir/file.png*",
            "*dir/file.png",
        ] {
            assert!(
                matches(json!({"detail": {"f": [{"wildcard": yes}]}}), &event),
                "{yes}"
            );
        }
        for no in ["dir", "*.jpg", "file*", "*dir", "d*x*png"] {
            assert!(
                !matches(json!({"detail": {"f": [{"wildcard": no}]}}), &event),
                "{no}"
            );
        }
    }

    #[test]
    fn escaped_star_is_literal() {
        let event = with_detail(json!({"a": "x*y", "b": "xzy"}));
        assert!(matches(
            json!({"detail": {"a": [{"wildcard": "x\\*y"}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"b": [{"wildcard": "x\\*y"}]}}),
            &event
        ));
    }

    #[test]
    fn documented_arn_wildcard() {
        let event = with_detail(
            json!({"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus"}),
        );
        assert!(matches(
            json!({"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}}),
            &event
        ));
    }
}

mod anything_but {
    use super::*;

    #[test]
    fn documented_single_string_and_number() {
        assert!(matches(
            json!({"detail": {"state": [{"anything-but": "initializing"}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"state": [{"anything-but": "running"}]}}),
            &ec2()
        ));
        assert!(matches(
            json!({"detail": {"x-limit": [{"anything-but": 123}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"x-limit": [{"anything-but": 301.8}]}}),
            &ec2()
        ));
    }

    #[test]
    fn documented_lists() {
        assert!(matches(
            json!({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}),
            &ec2()
        ));
        assert!(matches(
            json!({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"c-count": [{"anything-but": [1, 5]}]}}),
            &ec2()
        ));
    }

    #[test]
    fn documented_prefix() {
        assert!(matches(
            json!({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}),
            &ec2()
        ));
        let event = with_detail(json!({"Region": "us-east-1"}));
        assert!(!matches(
            json!({"detail": {"Region": [{"anything-but": {"prefix": "us-"}}]}}),
            &event
        ));
    }

    #[test]
    fn documented_suffix() {
        let png = with_detail(json!({"FileName": "a.png"}));
        let jpg = with_detail(json!({"FileName": "a.jpg"}));
        let pattern = json!({"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}});
        assert!(!matches(pattern.clone(), &png));
        assert!(matches(pattern, &jpg));
    }

    #[test]
    fn documented_ignore_case() {
        let upper = with_detail(json!({"state": "INITIALIZING"}));
        let pattern = json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}});
        assert!(!matches(pattern.clone(), &upper));
        assert!(matches(pattern, &ec2()));
        assert!(!matches(
            json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "RUNNING"]}}]}}),
            &ec2()
        ));
    }

    #[test]
    fn documented_wildcard() {
        let lib = with_detail(json!({"FilePath": "/usr/lib/x.so"}));
        let bin = with_detail(json!({"FilePath": "/usr/bin/x"}));
        let pattern = json!({"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}});
        assert!(!matches(pattern.clone(), &lib));
        assert!(matches(pattern, &bin));
        assert!(!matches(
            json!({"detail": {"FilePath": [{"anything-but": {"wildcard": ["*/bin/*", "*/lib/*"]}}]}}),
            &bin
        ));
    }

    #[test]
    fn anything_but_needs_the_field_present() {
        assert!(!matches(
            json!({"detail": {"absent": [{"anything-but": "x"}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"absent": [{"anything-but": {"prefix": "x"}}]}}),
            &ec2()
        ));
    }

    #[test]
    fn anything_but_matches_when_any_array_element_is_not_excluded() {
        let event = with_detail(json!({"tags": ["a", "b"], "only": ["a", "a"]}));
        assert!(matches(
            json!({"detail": {"tags": [{"anything-but": "a"}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"only": [{"anything-but": "a"}]}}),
            &event
        ));
    }

    #[test]
    fn numeric_anything_but_compares_numeric_value() {
        let event = with_detail(json!({"n": 300}));
        assert!(!matches(
            json!({"detail": {"n": [{"anything-but": [3.0e2]}]}}),
            &event
        ));
    }
}

mod numeric {
    use super::*;

    #[test]
    fn documented_numeric_example() {
        let pattern = json!({"detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}]
        }});
        assert!(matches(pattern, &ec2()));
    }

    #[test]
    fn bounds_are_open_or_closed_as_written() {
        let event = with_detail(json!({"n": 5}));
        let check = |terms: Value| matches(json!({"detail": {"n": [{"numeric": terms}]}}), &event);
        assert!(check(json!([">", 0, "<=", 5])));
        assert!(!check(json!([">", 0, "<", 5])));
        assert!(check(json!([">=", 5, "<", 6])));
        assert!(!check(json!([">", 5])));
        assert!(check(json!([">=", 5])));
        assert!(check(json!(["<=", 5])));
        assert!(!check(json!(["<", 5])));
        assert!(check(json!(["=", 5.0])));
        assert!(!check(json!(["=", 5.5])));
    }

    #[test]
    fn numeric_ignores_non_numbers() {
        let event = with_detail(json!({"n": "5", "b": true, "z": null}));
        for field in ["n", "b", "z"] {
            assert!(!matches(
                json!({"detail": {field: [{"numeric": [">=", 0]}]}}),
                &event
            ));
        }
    }

    #[test]
    fn numeric_matches_any_number_in_an_array() {
        let event = with_detail(json!({"n": [1, 50, 7]}));
        assert!(matches(
            json!({"detail": {"n": [{"numeric": [">", 40]}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"n": [{"numeric": [">", 60]}]}}),
            &event
        ));
    }

    #[test]
    fn numbers_beyond_the_range_do_not_match_numeric() {
        let event = with_detail(json!({"n": 6.0e9}));
        assert!(!matches(
            json!({"detail": {"n": [{"numeric": [">", 0]}]}}),
            &event
        ));
    }

    #[test]
    fn six_decimal_places_of_precision() {
        let event = with_detail(json!({"n": 0.000_000_1}));
        assert!(matches(
            json!({"detail": {"n": [{"numeric": ["=", 0]}]}}),
            &event
        ));
        let event = with_detail(json!({"n": 0.000_001}));
        assert!(!matches(
            json!({"detail": {"n": [{"numeric": ["=", 0]}]}}),
            &event
        ));
    }
}

mod cidr {
    use super::*;

    #[test]
    fn documented_ipv4_range() {
        assert!(matches(
            json!({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}),
            &ec2()
        ));
        assert!(matches(
            json!({"detail": {"source-ip": [{"cidr": "10.0.0.0/8"}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}),
            &ec2()
        ));
        let event = with_detail(json!({"sourceIPAddress": "10.0.0.255"}));
        assert!(matches(
            json!({"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}),
            &event
        ));
    }

    #[test]
    fn ipv6_ranges() {
        let event = with_detail(json!({"ip": "2001:db8::ff", "other": "2001:db9::1"}));
        let pattern = |field: &str| json!({"detail": {field: [{"cidr": "2001:db8::/64"}]}});
        assert!(matches(pattern("ip"), &event));
        assert!(!matches(pattern("other"), &event));
    }

    #[test]
    fn families_and_non_addresses_do_not_mix() {
        let event = with_detail(json!({"v6": "::a00:21", "name": "host.example", "n": 167772193}));
        for field in ["v6", "name", "n"] {
            assert!(!matches(
                json!({"detail": {field: [{"cidr": "10.0.0.0/8"}]}}),
                &event
            ));
        }
    }
}

mod exists {
    use super::*;

    #[test]
    fn documented_exists_true_and_false() {
        assert!(matches(
            json!({"detail": {"c-count": [{"exists": true}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"c-count": [{"exists": false}]}}),
            &ec2()
        ));
        assert!(matches(
            json!({"detail": {"nope": [{"exists": false}]}}),
            &ec2()
        ));
        assert!(!matches(
            json!({"detail": {"nope": [{"exists": true}]}}),
            &ec2()
        ));
    }

    #[test]
    fn documented_exists_false_matches_an_intermediate_node() {
        let event = with_detail(json!({"state": "running", "c-count": {"c1": 100}}));
        assert!(matches(
            json!({"detail": {"c-count": [{"exists": false}]}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"c-count": [{"exists": true}]}}),
            &event
        ));
    }

    #[test]
    fn exists_false_when_the_parent_is_missing() {
        assert!(matches(
            json!({"missing": {"c-count": [{"exists": false}]}}),
            &ec2()
        ));
    }

    #[test]
    fn null_is_a_value_that_exists() {
        let event = fixture("autoscaling-launch.json");
        assert!(matches(
            json!({"detail": {"responseElements": [{"exists": true}]}}),
            &event
        ));
    }

    #[test]
    fn an_empty_array_holds_no_value() {
        let event = fixture("autoscaling-launch.json");
        assert!(!matches(json!({"resources": [{"exists": true}]}), &event));
        assert!(matches(json!({"resources": [{"exists": false}]}), &event));
    }

    #[test]
    fn exists_combines_with_values_in_one_leaf() {
        let event = with_detail(json!({"state": "running"}));
        let pattern = json!({"detail": {"state": ["stopped", {"exists": false}]}});
        assert!(!matches(pattern, &event));
        let pattern = json!({"detail": {"other": ["stopped", {"exists": false}]}});
        assert!(matches(pattern, &event));
    }
}

mod or {
    use super::*;

    fn cloudwatch(metric: &str, namespace: &str) -> Value {
        json!({"source": "aws.cloudwatch", "metricName": metric, "namespace": namespace,
               "metricType": "MetricType", "scope": "Other", "metricId": 1, "spaceId": 2,
               "detail": {"source": "x", "detail-type": "CloudWatch Alarm State Change"}})
    }

    #[test]
    fn documented_normal_or() {
        let pattern = json!({
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}
            ]
        });
        assert!(matches(
            pattern.clone(),
            &cloudwatch("CPUUtilization", "Custom")
        ));
        assert!(matches(pattern.clone(), &cloudwatch("Other", "AWS/ES")));
        assert!(!matches(pattern, &cloudwatch("Other", "Custom")));
    }

    #[test]
    fn documented_parallel_or() {
        let pattern = json!({
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}
            ],
            "detail": {"$or": [
                {"source": ["aws.cloudwatch"]},
                {"detail-type": ["CloudWatch Alarm State Change"]}
            ]}
        });
        assert!(matches(pattern.clone(), &cloudwatch("ReadLatency", "x")));
        let mut other = cloudwatch("ReadLatency", "x");
        other["detail"]["detail-type"] = json!("Something");
        assert!(!matches(pattern, &other));
    }

    #[test]
    fn documented_nested_or_and_and() {
        let pattern = json!({
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"],
                 "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
                {"scope": ["Service"]}
            ]
        });
        assert!(!matches(pattern.clone(), &cloudwatch("Other", "AWS/EC2")));
        let mut event = cloudwatch("Other", "AWS/EC2");
        event["spaceId"] = json!(1000);
        assert!(matches(pattern.clone(), &event));
        let mut event = cloudwatch("Other", "Custom");
        event["scope"] = json!("Service");
        assert!(matches(pattern, &event));
    }
}

mod complex {
    use super::*;

    #[test]
    fn documented_complex_example() {
        let pattern = json!({
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
                "source-ip": [{"cidr": "10.0.0.0/8"}]
            }
        });
        assert!(matches(pattern.clone(), &ec2()));
        let mut event = ec2();
        event["detail"]["d-count"] = json!(10);
        assert!(!matches(pattern, &event));
    }

    #[test]
    fn a_non_object_event_matches_only_absence() {
        let only_absence = json!({"source": [{"exists": false}]});
        let needs_value = json!({"source": ["aws.ec2"]});
        for event in [json!(null), json!([1, 2]), json!("aws.ec2")] {
            assert!(matches(only_absence.clone(), &event));
            assert!(!matches(needs_value.clone(), &event));
        }
    }
}
